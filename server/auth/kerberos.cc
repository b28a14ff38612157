#include "server/auth/kerberos.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>

namespace xsmb::auth {
namespace {

// DER OID values (RFC 1964 1.1; MS-SPNG 3.1.5.1 for Microsoft's variant, which Windows puts in
// the SPNEGO mech list and some clients also use inside the token).
constexpr uint8_t kKrb5Oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
constexpr uint8_t kKrb5MsOid[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};
constexpr uint16_t kTokIdApReq = 0x0100;  // RFC 4121 4.1 TOK_ID of the initial context token
[[maybe_unused]] constexpr size_t kSmbSessionKeySize = 16;  // MS-SMB2 3.3.5.5.3

absl::Status malformed(const char* what) {
  return absl::InvalidArgumentError(absl::StrCat("Kerberos: malformed token: ", what));
}

// A DER definite length (X.690 8.1.3): short form, or long form of up to 4 octets, minimal.
absl::Status readDerLength(ByteReader& r, size_t* len) {
  size_t v = r.u8();
  if (v & 0x80) {
    size_t n = v & 0x7f;
    if (n == 0 || n > 4) return malformed("bad DER length");
    v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | r.u8();
    if (v < 0x80 || (v >> (8 * (n - 1))) == 0) return malformed("non-minimal DER length");
  }
  if (!r.ok()) return malformed("truncated DER length");
  *len = v;
  return absl::OkStatus();
}

// RFC 2743 3.1 framing: [APPLICATION 0] { thisMech OID, innerToken }, in DER with a definite
// length that covers exactly the rest of the buffer, thisMech a krb5 OID and the innerToken an
// AP-REQ (RFC 4121 4.1). MIT parses the AP-REQ itself; this keeps anything that is not a krb5
// initial token (SPNEGO, NTLMSSP, garbage) away from the mechanism glue, and tells malformed
// input (InvalidArgument) from a ticket that does not verify.
absl::Status checkFraming(ByteSpan token) {
  ByteReader r(token);
  if (r.u8() != 0x60) return malformed("not a GSS InitialContextToken");
  size_t len = 0;
  if (absl::Status s = readDerLength(r, &len); !s.ok()) return s;
  if (len != r.remaining()) return malformed("length does not match the token");
  if (r.u8() != 0x06) return malformed("no mechanism OID");
  size_t oid_len = r.u8();
  ByteSpan oid = r.bytes(oid_len);
  if (!r.ok()) return malformed("truncated mechanism OID");
  auto equals = [&](const auto& want) {
    return oid.size() == sizeof(want) && std::equal(oid.begin(), oid.end(), want);
  };
  if (!equals(kKrb5Oid) && !equals(kKrb5MsOid)) {
    return malformed("mechanism is not Kerberos 5");
  }
  uint16_t tok_id = r.u16be();
  if (!r.ok() || tok_id != kTokIdApReq) return malformed("inner token is not an AP-REQ");
  // The AP-REQ's own envelope, [APPLICATION 14] (RFC 4120 5.5.1), must fill the rest: MIT
  // reports decoding errors inside it only as a generic failure.
  if (r.u8() != 0x6e) return malformed("inner token is not an AP-REQ");
  if (absl::Status s = readDerLength(r, &len); !s.ok()) return s;
  if (len != r.remaining()) return malformed("AP-REQ length does not match the token");
  return absl::OkStatus();
}

// Splits "user@REALM" at the first '@' not escaped by a backslash (RFC 1964 2.1.1 / krb5
// display form, where an enterprise name shows as "user\@domain@REALM").
void splitPrincipal(const std::string& principal, std::string* user, std::string* realm) {
  for (size_t i = 0; i < principal.size(); ++i) {
    if (principal[i] == '\\') {
      ++i;
      continue;
    }
    if (principal[i] == '@') {
      *user = principal.substr(0, i);
      *realm = principal.substr(i + 1);
      return;
    }
  }
  *user = principal;
  realm->clear();
}

}  // namespace


namespace {

// Owns a gss_buffer_desc that GSS allocated.
class GssBuffer {
 public:
  GssBuffer() = default;
  ~GssBuffer() {
    OM_uint32 minor;
    gss_release_buffer(&minor, &buf_);
  }
  GssBuffer(const GssBuffer&) = delete;
  GssBuffer& operator=(const GssBuffer&) = delete;
  gss_buffer_t get() { return &buf_; }
  Bytes bytes() const {
    const auto* p = static_cast<const uint8_t*>(buf_.value);
    return p ? Bytes(p, p + buf_.length) : Bytes();
  }
  std::string str() const {
    return buf_.value ? std::string(static_cast<const char*>(buf_.value), buf_.length) : "";
  }

 private:
  gss_buffer_desc buf_ = GSS_C_EMPTY_BUFFER;
};

class GssName {
 public:
  GssName() = default;
  ~GssName() {
    OM_uint32 minor;
    if (name_ != GSS_C_NO_NAME) gss_release_name(&minor, &name_);
  }
  GssName(const GssName&) = delete;
  GssName& operator=(const GssName&) = delete;
  gss_name_t* out() { return &name_; }
  gss_name_t get() const { return name_; }

 private:
  gss_name_t name_ = GSS_C_NO_NAME;
};

class GssBufferSet {
 public:
  GssBufferSet() = default;
  ~GssBufferSet() {
    OM_uint32 minor;
    if (set_ != GSS_C_NO_BUFFER_SET) gss_release_buffer_set(&minor, &set_);
  }
  GssBufferSet(const GssBufferSet&) = delete;
  GssBufferSet& operator=(const GssBufferSet&) = delete;
  gss_buffer_set_t* out() { return &set_; }
  gss_buffer_set_t get() const { return set_; }

 private:
  gss_buffer_set_t set_ = GSS_C_NO_BUFFER_SET;
};

// "<what>: <major text>; <minor text>" from gss_display_status (RFC 2744 5.11).
std::string statusText(const std::string& what, OM_uint32 major, OM_uint32 minor) {
  std::string text(what);
  auto append = [&](OM_uint32 code, int type) {
    OM_uint32 context = 0;
    do {
      OM_uint32 m;
      GssBuffer msg;
      if (GSS_ERROR(gss_display_status(&m, code, type, GSS_C_NO_OID, &context, msg.get()))) {
        break;
      }
      absl::StrAppend(&text, text.size() == what.size() ? ": " : "; ", msg.str());
    } while (context != 0);
  };
  append(major, GSS_C_GSS_CODE);
  if (minor != 0) append(minor, GSS_C_MECH_CODE);
  absl::StrAppend(&text, " (major 0x", absl::Hex(major), ", minor ", minor, ")");
  return text;
}

// MIT names keytabs "TYPE:residual"; a bare path gets FILE: so that a ':' in it is not taken
// for a type prefix.
std::string keytabName(const std::string& keytab) {
  if (!keytab.empty() && (keytab[0] == '/' || keytab[0] == '.')) return "FILE:" + keytab;
  return keytab;
}

}  // namespace

struct KerberosAcceptor::GssState {
  gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
  gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;

  ~GssState() {
    OM_uint32 minor;
    if (ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    if (cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &cred);
  }
};

KerberosAcceptor::KerberosAcceptor(std::string keytab)
    : keytab_(std::move(keytab)), gss_(std::make_unique<GssState>()) {}
KerberosAcceptor::~KerberosAcceptor() = default;
KerberosAcceptor::KerberosAcceptor(KerberosAcceptor&&) noexcept = default;
KerberosAcceptor& KerberosAcceptor::operator=(KerberosAcceptor&&) noexcept = default;

absl::StatusOr<KerberosResult> KerberosAcceptor::accept(ByteSpan mech_token) {
  if (used_ || gss_ == nullptr) {
    return absl::FailedPreconditionError("Kerberos: acceptor already used");
  }
  used_ = true;
  if (absl::Status s = checkFraming(mech_token); !s.ok()) return s;
  if (keytab_.empty()) return absl::FailedPreconditionError("Kerberos: no keytab configured");

  // The keytab comes through the credential store, not KRB5_KTNAME: the environment is shared
  // by every thread of the process. GSS_C_NO_NAME accepts any principal the keytab holds.
  OM_uint32 major, minor = 0;
  const std::string keytab_name = keytabName(keytab_);
  gss_key_value_element_desc store_element = {"keytab", keytab_name.c_str()};
  gss_key_value_set_desc store = {1, &store_element};
  // Both OIDs, as MIT registers the Microsoft one as a mechanism of its own.
  gss_OID_desc mechs[] = {*gss_mech_krb5, *gss_mech_krb5_wrong};
  gss_OID_set_desc mech_set = {2, mechs};
  major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mech_set, GSS_C_ACCEPT,
                                &store, &gss_->cred, nullptr, nullptr);
  if (GSS_ERROR(major)) {
    return absl::FailedPreconditionError(
        statusText(absl::StrCat("Kerberos: keytab ", keytab_, " unusable"), major, minor));
  }

  gss_buffer_desc input = {mech_token.size(),
                           const_cast<uint8_t*>(mech_token.data())};  // GSS never writes it
  GssName source;
  GssBuffer output;
  OM_uint32 flags = 0;
  // Delegated credentials are not asked for (nullptr): the server never acts as the client.
  major = gss_accept_sec_context(&minor, &gss_->ctx, gss_->cred, &input, GSS_C_NO_CHANNEL_BINDINGS,
                                 source.out(), nullptr, output.get(), &flags, nullptr, nullptr);
  if (GSS_ERROR(major)) {
    std::string text = statusText("Kerberos: ticket rejected", major, minor);
    switch (GSS_ROUTINE_ERROR(major)) {
      case GSS_S_DEFECTIVE_TOKEN:
      case GSS_S_BAD_MECH:
        return absl::InvalidArgumentError(text);
      default:
        return absl::UnauthenticatedError(text);
    }
  }
  if (major & GSS_S_CONTINUE_NEEDED) {
    // Only DCE-style (three-leg) contexts continue; SMB never uses them.
    return absl::UnauthenticatedError("Kerberos: multi-leg (DCE-style) exchange not supported");
  }

  KerberosResult result;
  GssBuffer display;
  major = gss_display_name(&minor, source.get(), display.get(), nullptr);
  if (GSS_ERROR(major)) {
    return absl::UnauthenticatedError(statusText("Kerberos: client name", major, minor));
  }
  result.principal = display.str();
  splitPrincipal(result.principal, &result.user, &result.realm);
  if (result.user.empty()) return absl::UnauthenticatedError("Kerberos: empty client name");

  GssBufferSet key;
  major = gss_inquire_sec_context_by_oid(&minor, gss_->ctx, GSS_C_INQ_SSPI_SESSION_KEY, key.out());
  if (GSS_ERROR(major) || key.get() == GSS_C_NO_BUFFER_SET || key.get()->count < 1 ||
      key.get()->elements[0].length == 0) {
    return absl::UnauthenticatedError(statusText("Kerberos: no session key", major, minor));
  }
  const gss_buffer_desc& k = key.get()->elements[0];
  const auto* kp = static_cast<const uint8_t*>(k.value);
  result.session_key.assign(kSmbSessionKeySize, 0);
  std::copy_n(kp, std::min(k.length, kSmbSessionKeySize), result.session_key.begin());

  result.response_token = output.bytes();
  return result;
}

bool kerberosAvailable() { return true; }


}  // namespace xsmb::auth
