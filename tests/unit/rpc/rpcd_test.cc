// RpcdClient against the real xsmb-rpcd: calls, concurrency, crash and restart, timeouts and
// the sandbox (no file can be opened; unprivileged when started as root).
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <thread>

#include "gtest/gtest.h"
#include "rpc/pdu.h"
#include "rpc/rpcd_client.h"
#include "rpc/rpcd_fault.h"
#include "rpc_test_util.h"

namespace xsmb::rpc {
namespace {

using testing::bindBytes;
using testing::requestBytes;
using testing::responseStub;

ServerInfo info() { return *testing::testServerInfo(); }

std::unique_ptr<RpcdClient> startClient(RpcdOptions opts = {}) {
  auto c = RpcdClient::start(XSMB_RPCD_PATH, info(), opts);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

Bytes srvInfoRequest(uint32_t call_id) {
  NdrWriter w;
  w.pointer(true);
  w.cvString("\\\\srv");
  w.u32(101);
  return requestBytes(call_id, 21, w.take());
}

// Binds srvsvc on a fresh pipe and returns NetServerGetInfo(101)'s comment.
std::string serverComment(RpcdClient& c) {
  auto pipe = c.openPipe("srvsvc", CallerInfo{"bench", "", false});
  EXPECT_TRUE(pipe.ok()) << pipe.status();
  if (!pipe.ok()) return {};
  auto ack = c.transact(*pipe, bindBytes(1, srvsvcSyntax()));
  EXPECT_TRUE(ack.ok());
  auto out = c.transact(*pipe, srvInfoRequest(2));
  EXPECT_TRUE(out.ok());
  c.closePipe(*pipe);
  if (!out.ok()) return {};
  Bytes stub = responseStub(*out);
  NdrReader r(stub);
  r.u32();
  r.pointer();
  r.u32();
  r.pointer();
  r.u32();
  r.u32();
  r.u32();
  r.pointer();
  r.cvString();
  return r.cvString();
}

bool waitFor(const std::function<bool()>& pred, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::string statusField(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

TEST(RpcdClientTest, CallsWork) {
  auto c = startClient();
  ASSERT_NE(c, nullptr);
  EXPECT_GT(c->helperPid(), 0);
  EXPECT_EQ(serverComment(*c), "xsmbd test");
  EXPECT_TRUE(absl::IsNotFound(c->openPipe("spoolss", {}).status()));
  EXPECT_TRUE(absl::IsNotFound(c->transact(12345, Bytes{1}).status()));
  // Garbage on a pipe -> Aborted, and the pipe is gone.
  auto pipe = c->openPipe("\\PIPE\\lsarpc", {});
  ASSERT_TRUE(pipe.ok());
  Bytes garbage(16, 0xEE);
  EXPECT_TRUE(absl::IsAborted(c->transact(*pipe, garbage).status()));
  EXPECT_TRUE(absl::IsNotFound(c->transact(*pipe, garbage).status()));
  // A partial PDU gives an empty reply, the rest completes it.
  auto p2 = c->openPipe("srvsvc", {});
  ASSERT_TRUE(p2.ok());
  Bytes bind = bindBytes(1, srvsvcSyntax());
  auto part = c->transact(*p2, ByteSpan(bind).first(10));
  ASSERT_TRUE(part.ok());
  EXPECT_TRUE(part->empty());
  auto rest = c->transact(*p2, ByteSpan(bind).subspan(10));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ((*rest)[2], static_cast<uint8_t>(PType::kBindAck));
  // New snapshot: new pipes see it.
  ServerInfo changed = info();
  changed.server_string = "changed";
  c->updateServerInfo(changed);
  EXPECT_EQ(serverComment(*c), "changed");
}

TEST(RpcdClientTest, ManyThreads) {
  auto c = startClient();
  ASSERT_NE(c, nullptr);
  std::atomic<int> good{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (serverComment(*c) == "xsmbd test") ++good;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(good.load(), 80);
}

TEST(RpcdClientTest, HelperCrashFailsInFlightCallsAndRestarts) {
  auto c = startClient();
  ASSERT_NE(c, nullptr);
  auto pipe = c->openPipe("srvsvc", {});
  ASSERT_TRUE(pipe.ok());
  ASSERT_TRUE(c->transact(*pipe, bindBytes(1, srvsvcSyntax())).ok());
  pid_t old = c->helperPid();
  // A call the helper never answers, then the helper dies with SIGKILL.
  auto held = std::async(std::launch::async, [&] { return c->testCall(MsgType::kTestHold, {}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(held.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  ASSERT_EQ(kill(old, SIGKILL), 0);
  auto r = held.get();
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  ASSERT_TRUE(waitFor([&] { return c->helperPid() > 0 && c->helperPid() != old; }));
  EXPECT_EQ(c->restarts(), 1u);
  // The pipe opened before the crash is gone; the client reopens and it works.
  EXPECT_TRUE(absl::IsUnavailable(c->transact(*pipe, srvInfoRequest(2)).status()));
  EXPECT_EQ(serverComment(*c), "xsmbd test");
  // The old helper was reaped, not left a zombie.
  EXPECT_NE(kill(old, 0), 0);
}

// kill -9 of a helper that has served for a while: a new one answers within a second, every
// time (the restart backoff applies only to a helper that keeps dying right after its start).
TEST(RpcdClientTest, BackWithinASecondAfterKill) {
  auto c = startClient();
  ASSERT_NE(c, nullptr);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    pid_t old = c->helperPid();
    ASSERT_GT(old, 0);
    auto killed = std::chrono::steady_clock::now();
    ASSERT_EQ(kill(old, SIGKILL), 0);
    ASSERT_TRUE(waitFor([&] { return c->helperPid() > 0 && c->helperPid() != old; }, 3000));
    EXPECT_EQ(serverComment(*c), "xsmbd test");
    EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(1));
    EXPECT_EQ(c->restarts(), static_cast<uint64_t>(round + 1));
  }
}

TEST(RpcdClientTest, RequestInFlightWhenHelperDiesGetsFault) {
  auto c = startClient();
  ASSERT_NE(c, nullptr);
  auto pipe = c->openPipe("srvsvc", {});
  ASSERT_TRUE(pipe.ok());
  ASSERT_TRUE(c->transact(*pipe, bindBytes(1, srvsvcSyntax())).ok());
  pid_t old = c->helperPid();
  // The helper is stopped, so the request is in flight (sent, not answered) when it is killed.
  ASSERT_EQ(kill(old, SIGSTOP), 0);
  auto call = std::async(std::launch::async, [&] { return c->transact(*pipe, srvInfoRequest(7)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(call.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  ASSERT_EQ(kill(old, SIGKILL), 0);
  auto out = call.get();
  ASSERT_TRUE(out.ok()) << out.status();
  auto pdu = decodePdu(*out);
  ASSERT_TRUE(pdu.ok()) << pdu.status();
  EXPECT_EQ(pdu->header.ptype, PType::kFault);
  EXPECT_EQ(pdu->header.call_id, 7u);
  ASSERT_TRUE(std::holds_alternative<FaultPdu>(pdu->body));
  EXPECT_EQ(std::get<FaultPdu>(pdu->body).status, kNcaFaultRemoteCommFailure);
  // The pipe is gone; a new one works once the helper is back.
  EXPECT_TRUE(absl::IsNotFound(c->transact(*pipe, srvInfoRequest(8)).status()));
  ASSERT_TRUE(waitFor([&] { return c->helperPid() > 0 && c->helperPid() != old; }));
  EXPECT_EQ(serverComment(*c), "xsmbd test");
}

TEST(RpcdClientTest, CallTimeoutReplacesHelper) {
  RpcdOptions opts;
  opts.call_timeout = absl::Milliseconds(300);
  auto c = startClient(opts);
  ASSERT_NE(c, nullptr);
  pid_t old = c->helperPid();
  auto r = c->testCall(MsgType::kTestHold, {});
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  ASSERT_TRUE(waitFor([&] { return c->helperPid() > 0 && c->helperPid() != old; }));
  EXPECT_EQ(serverComment(*c), "xsmbd test");
}

TEST(RpcdClientTest, StartFailsForMissingBinary) {
  EXPECT_FALSE(RpcdClient::start("/nonexistent/xsmb-rpcd", info()).ok());
}

TEST(RpcdSandboxTest, CannotOpenFilesAndRunsUnprivileged) {
  auto c = startClient();
  ASSERT_NE(c, nullptr);
  // A file in a "share" the server process itself can read.
  char dir[] = "/tmp/xsmb-rpcd-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string file = std::string(dir) + "/secret.txt";
  std::ofstream(file) << "share data";
  chmod(dir, 0755);
  chmod(file.c_str(), 0644);  // world-readable: only the sandbox can stop the open
  ASSERT_EQ(access(file.c_str(), R_OK), 0);
  for (const std::string& path : {file, std::string("/etc/passwd"), std::string("/")}) {
    auto r = c->testCall(MsgType::kTestOpenFile, Bytes(path.begin(), path.end()));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->type, MsgType::kTestResult);
    ByteReader br(r->payload);
    int err = static_cast<int>(br.u32());
    EXPECT_EQ(err, EPERM) << path << ": the helper could open it";
  }
  pid_t pid = c->helperPid();
  EXPECT_EQ(statusField(pid, "NoNewPrivs"), "\t1");
  EXPECT_EQ(statusField(pid, "Seccomp"), "\t2");
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam("nobody");
    ASSERT_NE(pw, nullptr);
    std::string uid = std::to_string(pw->pw_uid);
    std::string expect = "\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid;
    EXPECT_EQ(statusField(pid, "Uid"), expect);
    std::string groups = statusField(pid, "Groups");
    EXPECT_EQ(groups.find_first_not_of("\t "), std::string::npos) << groups;
    auto r = c->testCall(MsgType::kTestOpenFile, Bytes{'/'});
    ByteReader br(r->payload);
    br.u32();
    EXPECT_EQ(br.u32(), pw->pw_uid);  // uid as the helper sees it
    EXPECT_EQ(br.u32(), pw->pw_uid);  // euid
    FILE* ps = popen(("ps -o user= -p " + std::to_string(pid)).c_str(), "r");
    ASSERT_NE(ps, nullptr);
    char buf[64] = {};
    fgets(buf, sizeof(buf), ps);
    pclose(ps);
    EXPECT_EQ(std::string(buf), "nobody\n");
  } else {
    GTEST_LOG_(INFO) << "not root: privilege drop not exercised (run as root to test it)";
  }
  unlink(file.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace xsmb::rpc
