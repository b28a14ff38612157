// TLS 1.3 for the QUIC transport (RFC 9001) through GnuTLS and ngtcp2's GnuTLS crypto helper:
// the server's certificate and key (smb.conf "tls certfile", "tls keyfile", PEM), and one TLS
// session per QUIC connection that offers only the ALPN protocol "smb" (MS-SMB2 2.1): a client
// that offers another is refused with the TLS alert no_application_protocol (120, RFC 7301 3.2),
// which QUIC carries as CRYPTO_ERROR 0x178 (RFC 9001 4.8).
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace xsmb::transport::quic {

// The ALPN protocol ID of SMB over QUIC (MS-SMB2 2.1).
inline constexpr char kSmbAlpn[] = "smb";

class TlsServerContext {
 public:
  // Loads the PEM certificate chain and private key; an error names the file and GnuTLS's reason.
  static absl::StatusOr<std::unique_ptr<TlsServerContext>> load(const std::string& cert_file,
                                                                const std::string& key_file);
  ~TlsServerContext();

  // A server session for one QUIC connection: TLS 1.3 only, ALPN "smb" required, `ref` as
  // the session's pointer (ngtcp2's crypto helper finds the connection through it). nullptr
  // when GnuTLS refuses (logged).
  gnutls_session_t newSession(ngtcp2_crypto_conn_ref* ref) const;

 private:
  TlsServerContext() = default;
  gnutls_certificate_credentials_t cred_ = nullptr;
};

}  // namespace xsmb::transport::quic
