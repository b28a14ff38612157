// server/metrics: RequestMetrics sums what many threads record (nothing lost, buckets by the
// bounds), the exposition text (escaping, cumulative buckets ending in +Inf, BPF counters by
// hook and reason), and HttpEndpoint on a loopback port (paths, methods, readiness).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/metrics/exposition.h"
#include "server/metrics/http_endpoint.h"
#include "server/metrics/request_metrics.h"

namespace xsmb::metrics {
namespace {

TEST(RequestMetrics, ThreadsAddUpExactly) {
  RequestMetrics m;
  constexpr int kThreads = 12;  // more than the stripes: some share one
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kEach; ++i) {
        m.record(8, 1000);  // READ, 1 us
        m.addRead(3);
        m.addWritten(5);
      }
    });
  }
  for (auto& t : threads) t.join();
  RequestSnapshot s = m.snapshot();
  EXPECT_EQ(s.commands[8].count, uint64_t{kThreads} * kEach);
  EXPECT_EQ(s.commands[8].sum_ns, uint64_t{kThreads} * kEach * 1000);
  EXPECT_EQ(s.commands[8].buckets[0], uint64_t{kThreads} * kEach);  // <= 50 us
  EXPECT_EQ(s.read_bytes, uint64_t{kThreads} * kEach * 3);
  EXPECT_EQ(s.written_bytes, uint64_t{kThreads} * kEach * 5);
}

TEST(RequestMetrics, BucketsFollowTheBounds) {
  struct Case {
    uint64_t ns;
    size_t bucket;
  };
  const Case cases[] = {
      {0, 0},       {50000, 0},   {50001, 1},           {100000, 1},          {999999, 4},
      {1000000, 4}, {1000001, 5}, {10000000000ull, 15}, {10000000001ull, 16}, {~0ull, 16},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ns);
    RequestMetrics m;
    m.record(5, c.ns);
    EXPECT_EQ(m.snapshot().commands[5].buckets[c.bucket], 1u);
  }
}

TEST(RequestMetrics, CommandsAboveTheListCountAsOther) {
  RequestMetrics m;
  m.record(0x13, 1);
  m.record(0xffff, 1);
  EXPECT_EQ(m.snapshot().commands[kOtherCommand].count, 2u);
  EXPECT_EQ(commandName(8), "READ");
  EXPECT_EQ(commandName(0x12), "OPLOCK_BREAK");
  EXPECT_EQ(commandName(kOtherCommand), "OTHER");
}

TEST(Exposition, EscapesAndTypes) {
  Exposition e;
  e.family("x_total", "counter", "a \\ b\nc");
  e.sample("x_total", {{"k", "q\"u\\o\nte"}}, uint64_t{7});
  e.gauge("g", "help", 0.5);
  EXPECT_EQ(e.text(),
            "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n"
            "x_total{k=\"q\\\"u\\\\o\\nte\"} 7\n"
            "# HELP g help\n# TYPE g gauge\ng 0.5\n");
}

TEST(Exposition, HistogramIsCumulativeAndEndsInInf) {
  RequestMetrics m;
  m.record(9, 40000);        // WRITE, first bucket
  m.record(9, 2000000);      // 2 ms: le 0.0025
  m.record(9, 20000000000);  // 20 s: +Inf only
  Exposition e;
  writeRequestMetrics(m.snapshot(), e);
  const std::string& t = e.text();
  EXPECT_NE(t.find("xsmbd_requests_total{command=\"WRITE\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_bucket{command=\"WRITE\",le=\"5e-05\"} 1\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_bucket{command=\"WRITE\",le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_bucket{command=\"WRITE\",le=\"0.0025\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_bucket{command=\"WRITE\",le=\"10\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_bucket{command=\"WRITE\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_sum{command=\"WRITE\"} 20.00204\n"),
            std::string::npos);
  EXPECT_NE(t.find("xsmbd_request_duration_seconds_count{command=\"WRITE\"} 3\n"),
            std::string::npos);
  EXPECT_EQ(t.find("command=\"READ\""), std::string::npos);  // never requested: left out
}

TEST(Exposition, BpfCountersByHookAndReason) {
  Exposition e;
  writeBpfCounters({{"XDP_PACKETS", 10},
                    {"XDP_PASS_NOT_TCP", 4},
                    {"XDP_DROP_BLOCKED", 3},
                    {"XDP_REDIRECT_CPU", 2},
                    {"SK_DROP_OVERSIZE", 1}},
                   e);
  const std::string& t = e.text();
  EXPECT_NE(t.find("xsmbd_bpf_pass_total{hook=\"xdp\",reason=\"not_tcp\"} 4\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("xsmbd_bpf_drop_total{hook=\"xdp\",reason=\"blocked\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("xsmbd_bpf_drop_total{hook=\"sk_skb\",reason=\"oversize\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("xsmbd_bpf_redirect_total{hook=\"xdp\",reason=\"cpu\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("xsmbd_bpf_events_total{counter=\"xdp_packets\"} 10\n"), std::string::npos);
  // Each family's TYPE line appears once, its samples together.
  EXPECT_EQ(t.find("# TYPE xsmbd_bpf_drop_total"), t.rfind("# TYPE xsmbd_bpf_drop_total"));
}

// One HTTP/1.0 request to 127.0.0.1:port; the whole response.
std::string httpRequest(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    (void)!write(fd, request.data(), request.size());
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// The status code of an HTTP response ("HTTP/1.x NNN ..."), "" when there is none.
std::string statusOf(const std::string& response) {
  return response.rfind("HTTP/1.", 0) == 0 && response.size() >= 12 ? response.substr(9, 3) : "";
}

TEST(HttpEndpoint, AnswersPathsAndMethods) {
  std::atomic<bool> ready{false};
  HttpEndpoint ep;
  std::string error;
  ASSERT_TRUE(ep.start(
      "127.0.0.1", 0,
      {[] { return std::string("m_total 1\n"); }, [&ready] { return ready.load(); }}, &error))
      << error;
  ASSERT_NE(ep.port(), 0);
  std::string r = httpRequest(ep.port(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(statusOf(r), "200") << r;
  EXPECT_NE(r.find("text/plain; version=0.0.4"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\nm_total 1\n"), std::string::npos) << r;
  EXPECT_EQ(statusOf(httpRequest(ep.port(), "GET /healthz HTTP/1.0\r\n\r\n")), "200");
  EXPECT_EQ(statusOf(httpRequest(ep.port(), "GET /readyz HTTP/1.0\r\n\r\n")), "503");
  ready = true;
  EXPECT_EQ(statusOf(httpRequest(ep.port(), "GET /readyz HTTP/1.0\r\n\r\n")), "200");
  EXPECT_EQ(statusOf(httpRequest(ep.port(), "GET /other HTTP/1.0\r\n\r\n")), "404");
  EXPECT_EQ(statusOf(httpRequest(ep.port(), "DELETE /metrics HTTP/1.0\r\n\r\n")), "405");
  // Garbage instead of a request line: an error answer or a closed socket, never a crash.
  std::string bad = httpRequest(ep.port(), std::string("\x01\x02\xff garbage\r\n\r\n", 16));
  EXPECT_TRUE(bad.empty() || bad.rfind("HTTP/1.", 0) == 0) << bad;
  ep.stop();
}

TEST(HttpEndpoint, RefusesANonLiteralHost) {
  HttpEndpoint ep;
  std::string error;
  EXPECT_FALSE(
      ep.start("localhost", 0, {[] { return std::string(); }, [] { return true; }}, &error));
  EXPECT_NE(error.find("not an IPv4 or IPv6 address"), std::string::npos) << error;
}

}  // namespace
}  // namespace xsmb::metrics
