#include "tools/xsmb-bench/quic_tunnels.h"

#include "absl/strings/str_cat.h"

namespace xsmb::bench {

absl::StatusOr<std::unique_ptr<QuicTunnels>> QuicTunnels::start(const QuicTunnelOptions& o) {
  if (o.ca.empty() && !o.insecure) {
    return absl::InvalidArgumentError("--transport quic needs --quic_ca FILE or --quic_insecure");
  }
  std::unique_ptr<QuicTunnels> t(new QuicTunnels());
  quic::TunnelOptions& to = t->options_;
  to.listen = "127.0.0.1:0";
  to.server = o.host.find(':') != std::string::npos ? absl::StrCat("[", o.host, "]:", o.port)
                                                    : absl::StrCat(o.host, ":", o.port);
  to.ca = o.ca;
  to.insecure = o.insecure;
  to.sni = o.sni;
  to.quiet = true;
  to.gso = o.gso;
  gnutls_certificate_allocate_credentials(&t->cred_);
  if (!o.insecure &&
      gnutls_certificate_set_x509_trust_file(t->cred_, o.ca.c_str(), GNUTLS_X509_FMT_PEM) <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("no certificate in ", o.ca));
  }
  t->loop_ = std::make_unique<quic::TunnelLoop>(t->options_, t->cred_);
  std::string err;
  if (!t->loop_->listen(&err)) return absl::UnavailableError(absl::StrCat("quic: ", err));
  t->thread_ = std::thread([loop = t->loop_.get()] { loop->run(); });
  return t;
}

QuicTunnels::~QuicTunnels() {
  if (thread_.joinable()) {
    loop_->stop();
    thread_.join();
  }
  loop_.reset();
  if (cred_) gnutls_certificate_free_credentials(cred_);
}

}  // namespace xsmb::bench
