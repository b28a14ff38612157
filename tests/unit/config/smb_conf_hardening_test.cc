// The hardening parameters (server/config/smb_conf_hardening.h): defaults, values at and past
// each range edge, byte suffixes, and the rendered configuration parsing back to the same values.
#include <string>

#include "gtest/gtest.h"
#include "server/config/smb_conf.h"
#include "tests/unit/config/smb_conf_test_util.h"

namespace xsmb::config {
namespace {

TEST(HardeningParams, Defaults) {
  ParseResult r = parseSmbConf("[global]\n");
  const HardeningConfig& h = r.config.global.hardening;
  EXPECT_EQ(h.max_open_files, 16384u);  // Samba's default
  EXPECT_EQ(h.max_open_files_per_session, 16384u);
  EXPECT_EQ(h.max_sessions_per_connection, 256u);
  EXPECT_EQ(h.max_async_requests, 512u);
  EXPECT_EQ(h.session_setup_timeout_secs, 30u);
  EXPECT_EQ(h.max_pending_request_bytes, 32u << 20);
  EXPECT_EQ(h.max_unsent_reply_bytes, 16u << 20);
  EXPECT_EQ(h.restrict_anonymous, 0u);
  EXPECT_EQ(r.config.global.max_connections, 4096u);
}

TEST(HardeningParams, RangesAreEnforced) {
  struct Case {
    const char* line;
    bool ok;
  };
  const Case cases[] = {
      {"max open files = 1", true},
      {"max open files = 0", false},
      {"max open files = 1048576", true},
      {"max open files = 1048577", false},
      {"max open files = 10K", false},  // counts take no suffix
      {"max open files per session = 100", true},
      {"max sessions per connection = 65535", true},
      {"max sessions per connection = 65536", false},
      {"max async requests per connection = 0", false},
      {"session setup timeout = 0", true},
      {"session setup timeout = 3600", true},
      {"session setup timeout = 3601", false},
      {"session setup timeout = 5s", false},
      {"max pending request bytes = 64M", true},
      {"max pending request bytes = 1048575", false},
      {"max unsent reply bytes = 1G", true},
      {"max unsent reply bytes = 2G", false},
      {"max unsent reply bytes = lots", false},
      {"restrict anonymous = 2", true},
      {"restrict anonymous = 3", false},
      {"Restrict_Anonymous = 1", true},  // names as Samba matches them
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ParseResult r = parseSmbConf(std::string("[global]\n") + c.line + "\n");
    EXPECT_EQ(!r.hasErrors(), c.ok) << describe(r.problems);
  }
}

TEST(HardeningParams, RenderedValuesParseBack) {
  ParseResult r = parseSmbConf(
      "[global]\nmax open files = 100\nsession setup timeout = 7\n"
      "max unsent reply bytes = 2M\nrestrict anonymous = 2\n");
  ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
  const HardeningConfig& h = r.config.global.hardening;
  EXPECT_EQ(h.max_open_files, 100u);
  EXPECT_EQ(h.session_setup_timeout_secs, 7u);
  EXPECT_EQ(h.max_unsent_reply_bytes, 2u << 20);
  EXPECT_EQ(h.restrict_anonymous, 2u);
  ParseResult again = parseSmbConf(renderConfig(r.config));
  ASSERT_FALSE(again.hasErrors()) << describe(again.problems);
  EXPECT_EQ(again.config.global.hardening, h);
}

}  // namespace
}  // namespace xsmb::config
