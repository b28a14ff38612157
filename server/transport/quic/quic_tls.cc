#include "server/transport/quic/quic_tls.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace xsmb::transport::quic {
namespace {

// TLS 1.3 only (RFC 9001 4.2), its AEADs that QUIC defines header protection for, and no
// middlebox compatibility mode (RFC 9001 8.4).
constexpr char kPriority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "+AES-128-CCM:%DISABLE_TLS13_COMPAT_MODE";

// After the ClientHello is read: the protocol GnuTLS selected must be "smb". GnuTLS already
// fails a handshake whose ALPN list shares nothing with ours; this also refuses a ClientHello
// without ALPN, which MS-SMB2 2.1 does not allow either.
int checkAlpn(gnutls_session_t session, unsigned /*htype*/, unsigned /*when*/,
              unsigned /*incoming*/, const gnutls_datum_t* /*msg*/) {
  gnutls_datum_t alpn{};
  if (gnutls_alpn_get_selected_protocol(session, &alpn) != 0 ||
      alpn.size != std::strlen(kSmbAlpn) || std::memcmp(alpn.data, kSmbAlpn, alpn.size) != 0) {
    return GNUTLS_E_NO_APPLICATION_PROTOCOL;
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsServerContext>> TlsServerContext::load(
    const std::string& cert_file, const std::string& key_file) {
  std::unique_ptr<TlsServerContext> ctx(new TlsServerContext());
  if (int rv = gnutls_certificate_allocate_credentials(&ctx->cred_); rv != 0) {
    return absl::InternalError(absl::StrCat("GnuTLS credentials: ", gnutls_strerror(rv)));
  }
  if (int rv = gnutls_certificate_set_x509_key_file(ctx->cred_, cert_file.c_str(), key_file.c_str(),
                                                    GNUTLS_X509_FMT_PEM);
      rv < 0) {
    return absl::InvalidArgumentError(absl::StrCat("tls certfile \"", cert_file,
                                                   "\" / tls keyfile \"", key_file,
                                                   "\": ", gnutls_strerror(rv)));
  }
  return ctx;
}

TlsServerContext::~TlsServerContext() {
  if (cred_) gnutls_certificate_free_credentials(cred_);
}

gnutls_session_t TlsServerContext::newSession(ngtcp2_crypto_conn_ref* ref) const {
  gnutls_session_t s = nullptr;
  if (int rv = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_END_OF_EARLY_DATA); rv != 0) {
    XLOG(ERROR) << "quic: gnutls_init: " << gnutls_strerror(rv);
    return nullptr;
  }
  const gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(kSmbAlpn)),
                            static_cast<unsigned>(std::strlen(kSmbAlpn))};
  const char* failed = nullptr;
  if (gnutls_priority_set_direct(s, kPriority, nullptr) != 0) {
    failed = "priority";
  } else if (ngtcp2_crypto_gnutls_configure_server_session(s) != 0) {
    failed = "ngtcp2 crypto setup";
  } else if (gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred_) != 0) {
    failed = "credentials";
  } else if (gnutls_alpn_set_protocols(
                 s, &alpn, 1, GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE) != 0) {
    failed = "ALPN";
  }
  if (failed) {
    XLOG(ERROR) << "quic: TLS session setup failed (" << failed << ")";
    gnutls_deinit(s);
    return nullptr;
  }
  gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST, checkAlpn);
  gnutls_session_set_ptr(s, ref);
  return s;
}

}  // namespace xsmb::transport::quic
