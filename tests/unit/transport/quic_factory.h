// The QUIC transport in the conformance suite (conformance_test.cc): the real QuicWorker on a
// UDP port of 127.0.0.1 with a throw-away self-signed certificate (made with openssl), and as
// client the repo's xsmb-quic-bridge (tools/xsmb-quic-bridge), started per test; each suite
// client is a TCP connection to the bridge, which carries it over a QUIC connection of its own
// and frames nothing itself (the client writes Direct TCP frames, MS-SMB2 2.1).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "server/transport/quic/quic_worker.h"
#include "tests/unit/transport/tcp_test_harness.h"

namespace xsmb::transport::test {

class QuicFactory {
 public:
  static constexpr const char* kName = "quic";
  static constexpr TransportKind kKind = TransportKind::kQuic;
  static constexpr size_t kLargeMessage = 4 << 20;

  void start(TestAcceptor* acceptor, vfs::IoPool* pool, uint32_t index) {
    char tmpl[] = "/tmp/xsmb-quic-ut.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -keyout " +
        dir_ + "/key.pem -out " + dir_ + "/cert.pem 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a certificate";
    auto tls = quic::TlsServerContext::load(dir_ + "/cert.pem", dir_ + "/key.pem");
    ASSERT_TRUE(tls.ok()) << tls.status().message();
    tls_ = std::move(*tls);
    options_.hosts = {"127.0.0.1"};
    options_.port = 0;
    peers_.assign(1, nullptr);
    worker_ = std::make_unique<quic::QuicWorker>(acceptor, pool, &options_, tls_.get(), 0, index,
                                                 &peers_);
    peers_[0] = worker_.get();
    ASSERT_TRUE(worker_->listen().ok());
    std::promise<std::thread::id> loop;
    worker_->start([&] { loop.set_value(std::this_thread::get_id()); });
    acceptor->loop_thread = loop.get_future().get();
    startBridge();
  }
  void stopLoop() {
    stopBridge();
    if (worker_) worker_->stop();
  }
  void destroy() {
    worker_.reset();
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
    dir_.clear();
  }

  class C : public SuiteClient {
   public:
    explicit C(uint16_t port) : c_(port) {}
    bool send(const std::string& m) override { return c_.send(frame(m)); }
    std::optional<std::string> read() override { return c_.readFrame(); }
    ::testing::AssertionResult closedByServer() override { return c_.closedByServer(); }
    void closeNow() override { c_.closeNow(); }

   private:
    Client c_;
  };
  std::unique_ptr<SuiteClient> connect() { return std::make_unique<C>(bridge_port_); }

 private:
  // xsmb-quic-bridge on a free port of 127.0.0.1; its first stdout line names the port.
  void startBridge() {
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    const std::string server = "127.0.0.1:" + std::to_string(worker_->boundPort());
    bridge_pid_ = fork();
    if (bridge_pid_ == 0) {
      dup2(out[1], 1);
      execl(XSMB_QUIC_BRIDGE, XSMB_QUIC_BRIDGE, "--server", server.c_str(), "--listen",
            "127.0.0.1:0", "--insecure", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[128] = "";
    ASSERT_NE(fgets(line, sizeof(line), f), nullptr) << "the bridge did not start";
    fclose(f);
    const std::string s = line;
    bridge_port_ = static_cast<uint16_t>(std::stoi(s.substr(s.rfind(':') + 1)));
  }
  void stopBridge() {
    if (bridge_pid_ <= 0) return;
    kill(bridge_pid_, SIGTERM);
    waitpid(bridge_pid_, nullptr, 0);
    bridge_pid_ = -1;
  }

  std::string dir_;
  std::unique_ptr<quic::TlsServerContext> tls_;
  quic::QuicOptions options_;
  std::vector<quic::QuicWorker*> peers_;
  std::unique_ptr<quic::QuicWorker> worker_;
  pid_t bridge_pid_ = -1;
  uint16_t bridge_port_ = 0;
};

}  // namespace xsmb::transport::test
