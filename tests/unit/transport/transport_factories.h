// The transports the conformance suite (conformance_test.cc) holds to one behaviour, each
// behind a factory: start a server side with the suite's TestAcceptor and a pool, connect
// clients that send and receive whole messages. TCP: the real Worker on 127.0.0.1 and a socket
// client writing NetBIOS frames. SMB Direct: the real SmbdWorker over the in-process loopback
// verbs provider, its client an MS-SMBD initiator Engine. A QUIC transport joins the suite by
// adding a factory here and its name to the type list in conformance_test.cc.
#pragma once

#include <poll.h>

#include <future>
#include <memory>
#include <optional>
#include <string>

#include "server/smbdirect/engine.h"
#include "server/smbdirect/loopback_verbs.h"
#include "server/smbdirect/smbd_worker.h"
#include "tests/unit/transport/tcp_test_harness.h"

namespace xsmb::transport::test {

// One client connection as the suite drives it.
class SuiteClient {
 public:
  virtual ~SuiteClient() = default;
  virtual bool send(const std::string& message) = 0;
  // The next whole message from the server, std::nullopt after kTimeout.
  virtual std::optional<std::string> read() = 0;
  std::string text() { return read().value_or("<no message>"); }
  // The server ended the connection (and sent nothing more first).
  virtual ::testing::AssertionResult closedByServer() = 0;
  virtual void closeNow() = 0;  // the client drops the connection
};

class TcpFactory {
 public:
  static constexpr const char* kName = "tcp";
  static constexpr TransportKind kKind = TransportKind::kTcp;
  void start(TestAcceptor* acceptor, vfs::IoPool* pool, uint32_t index) {
    options_.socket_options = {config::defaultSocketOption()};
    worker_ = std::make_unique<Worker>(acceptor, pool, &options_, &count_, index);
    ASSERT_TRUE(worker_->listen({{"127.0.0.1", 0}}));
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    ASSERT_EQ(getsockname(worker_->listeners()[0], reinterpret_cast<sockaddr*>(&sa), &len), 0);
    port_ = ntohs(sa.sin_port);
    std::promise<std::thread::id> loop;
    worker_->start([&] { loop.set_value(std::this_thread::get_id()); });
    acceptor->loop_thread = loop.get_future().get();
  }
  void stopLoop() {
    if (worker_) worker_->stop();
  }
  void destroy() { worker_.reset(); }

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
  std::unique_ptr<SuiteClient> connect() { return std::make_unique<C>(port_); }
  // The largest message the suite sends or receives in one piece over this transport.
  static constexpr size_t kLargeMessage = 4 << 20;

 private:
  TcpOptions options_;
  std::atomic<int> count_{0};
  std::unique_ptr<Worker> worker_;
  uint16_t port_ = 0;
};

// An MS-SMBD initiator over one loopback endpoint, driven by the thread that calls it: every
// wait polls the endpoint's completion eventfd and runs the engine (which grants the server
// credits as it consumes messages).
class SmbdClient : public SuiteClient {
 public:
  SmbdClient(std::unique_ptr<smbdirect::LoopbackVerbs> verbs, const smbd::Limits& limits = {})
      : verbs_(std::move(verbs)),
        engine_(verbs_.get(), limits, smbdirect::Engine::Role::kInitiator) {
    EXPECT_TRUE(engine_.start());
    EXPECT_TRUE(waitUntil([&] {
      return engine_.state() != smbdirect::Engine::State::kNegotiating;
    })) << "negotiate";
  }
  // True when the message was posted (the server may have closed right after taking it).
  bool send(const std::string& m) override {
    if (!engine_.send(Bytes(m.begin(), m.end()))) return false;
    engine_.process();
    return true;
  }
  std::optional<std::string> read() override {
    if (!waitUntil([&] { return !engine_.received().empty(); })) return std::nullopt;
    Bytes b = std::move(engine_.received().front());
    engine_.received().pop_front();
    return std::string(b.begin(), b.end());
  }
  ::testing::AssertionResult closedByServer() override {
    const bool ended =
        waitUntil([&] { return engine_.state() == smbdirect::Engine::State::kFailed; });
    if (!engine_.received().empty()) {
      const Bytes& m = engine_.received().front();
      return ::testing::AssertionFailure()
             << "unexpected message of " << m.size() << " bytes instead of the end"
             << (m.size() >= 12 ? ", NTSTATUS at 8: " +
                                      std::to_string(m[8] | m[9] << 8 | m[10] << 16 | m[11] << 24)
                                : std::string());
    }
    if (!ended) return ::testing::AssertionFailure() << "still connected";
    return ::testing::AssertionSuccess();
  }
  void closeNow() override { verbs_->disconnect(); }
  smbdirect::Engine& engine() { return engine_; }
  smbdirect::LoopbackVerbs& verbs() { return *verbs_; }
  // Runs the engine until `pred` holds or kTimeout passes (false), or the connection fails
  // with `pred` still false.
  bool waitUntil(const std::function<bool()>& pred) {
    const auto deadline = Clock::now() + kTimeout;
    for (;;) {
      engine_.process();
      if (pred()) return true;
      if (engine_.state() == smbdirect::Engine::State::kFailed || Clock::now() > deadline) {
        return false;
      }
      pollfd p{verbs_->completionFd(), POLLIN, 0};
      ::poll(&p, 1, 10);
      verbs_->ackEvents();
    }
  }

 private:
  std::unique_ptr<smbdirect::LoopbackVerbs> verbs_;
  smbdirect::Engine engine_;
};

class SmbdFactory {
 public:
  static constexpr const char* kName = "smbdirect-loopback";
  static constexpr TransportKind kKind = TransportKind::kRdma;
  void start(TestAcceptor* acceptor, vfs::IoPool* pool, uint32_t index) {
    worker_ = std::make_unique<smbdirect::SmbdWorker>(acceptor, pool, &options, index);
    std::promise<std::thread::id> loop;
    worker_->start([&] { loop.set_value(std::this_thread::get_id()); });
    acceptor->loop_thread = loop.get_future().get();
  }
  void stopLoop() {
    if (worker_) worker_->stop();
  }
  void destroy() { worker_.reset(); }
  std::unique_ptr<SmbdClient> connectSmbd(const smbd::Limits& limits = {}) {
    auto [server, client] = smbdirect::LoopbackVerbs::pair();
    worker_->adopt(std::move(server), "loopback:" + std::to_string(++n_));
    return std::make_unique<SmbdClient>(std::move(client), limits);
  }
  std::unique_ptr<SuiteClient> connect() { return connectSmbd(); }
  static constexpr size_t kLargeMessage = 1 << 20;  // the default MaxFragmentedSize
  smbdirect::SmbdOptions options;
  smbdirect::SmbdWorker* worker() { return worker_.get(); }

 private:
  std::unique_ptr<smbdirect::SmbdWorker> worker_;
  int n_ = 0;
};

// The fixture over one factory: a worker (loop index 3) and a pool of four.
template <typename Factory>
class TransportTest : public ::testing::Test {
 protected:
  void TearDown() override { stop(); }
  void start() {
    pool_ = std::make_unique<vfs::IoPool>(4);
    factory_.start(&acceptor_, pool_.get(), kLoopIndex);
  }
  // The loop stops first, then the pool finishes what it holds, then the worker goes.
  void stop() {
    factory_.stopLoop();
    pool_.reset();
    factory_.destroy();
  }
  std::unique_ptr<SuiteClient> connect() { return factory_.connect(); }
  TestAcceptor acceptor_;
  std::unique_ptr<vfs::IoPool> pool_;
  Factory factory_;
};

}  // namespace xsmb::transport::test
