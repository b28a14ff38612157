// Kerberos acceptor for SESSION_SETUP (MS-SPNG, RFC 4121) on MIT krb5's GSS-API: verifies the
// client's AP-REQ against the service keys of a keytab and yields the client principal, the
// SMB session key and the AP-REP for the SPNEGO responseToken.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"

namespace xsmb::auth {

struct KerberosResult {
  std::string principal;  // client principal as GSS displays it, e.g. "alice@TEST.XSMB"
  std::string user;       // the part before the realm's '@' (case as sent)
  std::string realm;      // the part after it, e.g. "TEST.XSMB"
  // MS-SMB2 3.3.5.5.3: the GSS session key (the acceptor/initiator subkey if one was sent, else
  // the ticket's session key), its first 16 bytes, zero-padded when shorter.
  Bytes session_key;
  // The acceptor's output token (GSS-framed AP-REP, RFC 4121 4.1) for SPNEGO's responseToken;
  // empty when the client did not ask for mutual authentication.
  Bytes response_token;
};

// One Kerberos authentication exchange (one SESSION_SETUP); not shareable between threads,
// but any number may run concurrently (no process-global state is touched).
class KerberosAcceptor {
 public:
  // `keytab`: path of a keytab file (smb.conf "kerberos keytab file"; "TYPE:residual" names
  // are passed through). Tickets for any service principal in it are accepted. Nothing is read
  // until accept().
  explicit KerberosAcceptor(std::string keytab);
  ~KerberosAcceptor();  // releases the GSS context and credentials
  KerberosAcceptor(KerberosAcceptor&&) noexcept;
  KerberosAcceptor& operator=(KerberosAcceptor&&) noexcept;
  KerberosAcceptor(const KerberosAcceptor&) = delete;
  KerberosAcceptor& operator=(const KerberosAcceptor&) = delete;

  // Accepts the client's krb5 mech token: a GSS InitialContextToken (RFC 2743 3.1) with the
  // krb5 OID 1.2.840.113554.1.2.2 (or Microsoft's 1.2.840.48018.1.2.2) around an AP-REQ, as
  // SPNEGO's mechToken carries it. One round trip; callable once per acceptor.
  // Errors: InvalidArgument for a malformed token (GSS framing, AP-REQ envelope, a structure MIT
  // calls defective) or a non-krb5 mechanism; Unauthenticated for a bad, expired or replayed
  // ticket, one for a key not in the keytab, or garbage inside the AP-REQ (MIT reports those
  // alike); the message carries the GSS major/minor status text; FailedPrecondition when the keytab
  // is unusable (missing, unreadable, empty) or accept() was already called.
  absl::StatusOr<KerberosResult> accept(ByteSpan mech_token);

 private:
  struct GssState;
  std::string keytab_;
  std::unique_ptr<GssState> gss_;
  bool used_ = false;
};

// True when GSSAPI can be used here (library present); always true when linked with it.
bool kerberosAvailable();

}  // namespace xsmb::auth
