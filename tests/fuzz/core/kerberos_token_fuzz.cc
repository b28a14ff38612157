// Fuzzes xsmbd's own checks of a client's Kerberos mech token (GSS InitialContextToken framing,
// krb5 OID, AP-REQ token id, lengths) before anything reaches MIT's GSSAPI: with no keytab the
// acceptor stops right after those checks.
#include <cstdint>

#include "server/auth/kerberos.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xsmb::auth::KerberosAcceptor acceptor("");
  auto r = acceptor.accept(xsmb::ByteSpan(data, size));
  (void)r;
  return 0;
}
