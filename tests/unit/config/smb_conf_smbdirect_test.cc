// The "smb direct ..." parameters (server/config/smb_conf_smbdirect.h): defaults (MS-SMBD's
// 255 credits, 1364-byte sends and receives, 1 MiB fragmented and read/write), values at and
// past each range edge, and the rendered configuration parsing back to the same values.
#include <string>

#include "gtest/gtest.h"
#include "server/config/smb_conf.h"
#include "tests/unit/config/smb_conf_test_util.h"

namespace xsmb::config {
namespace {

TEST(SmbDirectParams, DefaultsAreThoseOfTheIssue) {
  ParseResult r = parseSmbConf("[global]\n");
  const SmbDirectConfig& d = r.config.global.smbdirect;
  EXPECT_EQ(d.receive_credit_max, 255u);
  EXPECT_EQ(d.send_credit_target, 255u);
  EXPECT_EQ(d.max_send_size, 1364u);
  EXPECT_EQ(d.max_receive_size, 1364u);
  EXPECT_EQ(d.max_fragmented_size, 1u << 20);
  EXPECT_EQ(d.max_read_write_size, 1u << 20);
  EXPECT_EQ(d.idle_timeout_secs, 120u);
  EXPECT_EQ(d.keepalive_timeout_secs, 5u);
}

TEST(SmbDirectParams, RangesAreEnforced) {
  struct Case {
    const char* line;
    bool ok;
  };
  const Case cases[] = {
      {"smb direct receive credit max = 1", true},
      {"smb direct receive credit max = 0", false},
      {"smb direct receive credit max = 65535", true},
      {"smb direct receive credit max = 65536", false},
      {"smb direct send credit target = 1", true},
      {"smb direct max send size = 128", true},
      {"smb direct max send size = 127", false},
      {"smb direct max receive size = 65536", true},
      {"smb direct max receive size = 65537", false},
      {"smb direct max fragmented size = 131072", true},
      {"smb direct max fragmented size = 131071", false},
      {"smb direct max read write size = 8388608", true},
      {"smb direct max read write size = 8388609", false},
      {"smb direct idle timeout = 0", true},
      {"smb direct keepalive timeout = 0", false},
      {"smb direct keepalive timeout = 5s", false},
      {"smb direct negotiate timeout = 600", true},
      {"SMB_Direct_Max_Send_Size = 4096", true},  // names as Samba matches them
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ParseResult r = parseSmbConf(std::string("[global]\n") + c.line + "\n");
    EXPECT_EQ(!r.hasErrors(), c.ok) << describe(r.problems);
  }
}

TEST(SmbDirectParams, RenderedValuesParseBack) {
  ParseResult r = parseSmbConf(
      "[global]\nsmb direct receive credit max = 16\nsmb direct max send size = 4096\n"
      "smb direct idle timeout = 30\n");
  ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
  EXPECT_EQ(r.config.global.smbdirect.receive_credit_max, 16u);
  EXPECT_EQ(r.config.global.smbdirect.max_send_size, 4096u);
  EXPECT_EQ(r.config.global.smbdirect.idle_timeout_secs, 30u);
  ParseResult again = parseSmbConf(renderConfig(r.config));
  ASSERT_FALSE(again.hasErrors()) << describe(again.problems);
  EXPECT_TRUE(again.config.global.smbdirect == r.config.global.smbdirect);
}

}  // namespace
}  // namespace xsmb::config
