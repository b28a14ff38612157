// xsmb-quic-bridge: lets an SMB client that speaks TCP (smbclient, the integration tests'
// Python client) reach an SMB-over-QUIC server (MS-SMB2 2.1). It listens on a local TCP port
// and carries each accepted connection over a QUIC connection of its own (common/quic/tunnel_loop.h).
//
//   xsmb-quic-bridge --server HOST:PORT [--listen HOST:PORT] [--alpn smb] [--ca FILE |
//                    --insecure] [--sni NAME] [--migrate-after-bytes N] [--gso]
//   xsmb-quic-bridge --server HOST:PORT --probe [--alpn ...]   one handshake; exit 0 if it
//                    completed, 1 (and the reason, e.g. the TLS alert) if not
//
// On start it prints "listening on HOST:PORT" (the port the kernel chose for :0) on stdout.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/quic/tunnel_loop.h"

namespace xsmb::quic {
namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: xsmb-quic-bridge --server HOST:PORT [--listen HOST:PORT] [--alpn NAME]\n"
      "       [--ca FILE | --insecure] [--sni NAME] [--migrate-after-bytes N] [--gso]\n"
      "       [--probe]\n");
  return 2;
}

bool parse(int argc, char** argv, TunnelOptions* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    std::string n;
    if (a == "--insecure") {
      o->insecure = true;
    } else if (a == "--gso") {
      o->gso = true;
    } else if (a == "--probe") {
      o->probe = true;
    } else if (a == "--server"                ? !value(&o->server)
               : a == "--listen"              ? !value(&o->listen)
               : a == "--alpn"                ? !value(&o->alpn)
               : a == "--ca"                  ? !value(&o->ca)
               : a == "--sni"                 ? !value(&o->sni)
               : a == "--migrate-after-bytes" ? !value(&n)
                                              : true) {
      return false;
    }
    if (!n.empty()) o->migrate_after_bytes = std::strtoull(n.c_str(), nullptr, 10);
  }
  return !o->server.empty() && (o->insecure || !o->ca.empty());
}

int serve(const TunnelOptions& o, gnutls_certificate_credentials_t cred) {
  TunnelLoop loop(o, cred);
  if (o.probe) return loop.probe();
  std::string err;
  if (!loop.listen(&err)) {
    std::fprintf(stderr, "xsmb-quic-bridge: %s\n", err.c_str());
    return 1;
  }
  const size_t colon = o.listen.rfind(':');
  std::printf("listening on %s:%u\n", o.listen.substr(0, colon).c_str(), loop.port());
  std::fflush(stdout);
  loop.run();
  return 0;
}

}  // namespace
}  // namespace xsmb::quic

int main(int argc, char** argv) {
  using namespace xsmb::quic;
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stderr, nullptr, _IOLBF, 0);
  TunnelOptions o;
  if (!parse(argc, argv, &o)) return usage();
  gnutls_certificate_credentials_t cred = nullptr;
  gnutls_certificate_allocate_credentials(&cred);
  if (!o.ca.empty() &&
      gnutls_certificate_set_x509_trust_file(cred, o.ca.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
    std::fprintf(stderr, "xsmb-quic-bridge: no certificate in %s\n", o.ca.c_str());
    gnutls_certificate_free_credentials(cred);
    return 1;
  }
  // Freed after the loop that uses it is gone (LeakSanitizer reported it at a probe's exit).
  const int rc = serve(o, cred);
  gnutls_certificate_free_credentials(cred);
  return rc;
}
