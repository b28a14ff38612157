// The operations parameters (server/config/smb_conf_ops.h): "metrics address" (HOST:PORT with
// an IPv4 or bracketed IPv6 literal; empty = off, the default) and "shutdown timeout" (0..3600 s,
// default 10); parseHostPort at and past its edges; the rendered values parsing back.
#include <string>

#include "gtest/gtest.h"
#include "server/config/smb_conf.h"
#include "tests/unit/config/smb_conf_test_util.h"

namespace xsmb::config {
namespace {

TEST(OpsParams, Defaults) {
  ParseResult r = parseSmbConf("[global]\n");
  EXPECT_EQ(r.config.global.ops.metrics_address, "");
  EXPECT_EQ(r.config.global.ops.shutdown_timeout_secs, 10u);
}

TEST(OpsParams, ValuesAreChecked) {
  struct Case {
    const char* line;
    bool ok;
  };
  const Case cases[] = {
      {"metrics address = 127.0.0.1:9445", true},
      {"metrics address = 0.0.0.0:0", true},
      {"metrics address = [::1]:9445", true},
      {"metrics address =", true},
      {"metrics address = 127.0.0.1", false},
      {"metrics address = 127.0.0.1:", false},
      {"metrics address = 127.0.0.1:65536", false},
      {"metrics address = localhost:9445", false},
      {"metrics address = ::1:9445", false},
      {"metrics address = [127.0.0.1]:9445", false},
      {"metrics address = 127.0.0.1:94x5", false},
      {"shutdown timeout = 0", true},
      {"shutdown timeout = 3600", true},
      {"shutdown timeout = 3601", false},
      {"shutdown timeout = 10s", false},
      {"shutdown timeout =", false},
      {"Shutdown_Timeout = 5", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ParseResult r = parseSmbConf(std::string("[global]\n") + c.line + "\n");
    EXPECT_EQ(!r.hasErrors(), c.ok) << describe(r.problems);
  }
}

TEST(OpsParams, HostPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parseHostPort("127.0.0.1:9445", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9445);
  ASSERT_TRUE(parseHostPort("[fe80::1]:65535", &host, &port));
  EXPECT_EQ(host, "fe80::1");
  EXPECT_EQ(port, 65535);
  EXPECT_FALSE(parseHostPort("", &host, &port));
  EXPECT_FALSE(parseHostPort(":1", &host, &port));
  EXPECT_FALSE(parseHostPort("[]:1", &host, &port));
  EXPECT_FALSE(parseHostPort("1.2.3.4:123456", &host, &port));
}

TEST(OpsParams, RenderedValuesParseBack) {
  ParseResult r = parseSmbConf("[global]\nmetrics address = [::1]:9445\nshutdown timeout = 30\n");
  ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
  EXPECT_EQ(r.config.global.ops.metrics_address, "[::1]:9445");
  EXPECT_EQ(r.config.global.ops.shutdown_timeout_secs, 30u);
  ParseResult again = parseSmbConf(renderConfig(r.config));
  ASSERT_FALSE(again.hasErrors()) << describe(again.problems);
  EXPECT_TRUE(again.config.global.ops == r.config.global.ops);
}

}  // namespace
}  // namespace xsmb::config
