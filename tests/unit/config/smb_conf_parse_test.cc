// smb.conf parsing: the file syntax (comments, continuation, sections), which section a
// parameter applies to, the checks of the whole configuration, and where problems are reported.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/smb_conf.h"
#include "tests/unit/config/smb_conf_test_util.h"

namespace xsmb::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST_F(SmbConfTest, EmptyTextGivesDefaultsAndIpc) {
  ParseResult r = parseSmbConf("");
  EXPECT_THAT(r.problems, IsEmpty());
  const GlobalConfig& g = r.config.global;
  EXPECT_EQ(g.workgroup, "WORKGROUP");
  EXPECT_EQ(g.netbios_name, defaultNetbiosName());
  EXPECT_FALSE(g.netbios_name.empty());
  EXPECT_THAT(g.smb_ports, ElementsAre(445));
  EXPECT_EQ(g.server_min_protocol, 0x0202);
  EXPECT_EQ(g.server_max_protocol, 0x0311);
  EXPECT_EQ(g.busy_poll_usecs, 50u);
  EXPECT_THAT(g.socket_options, ElementsAre(SocketOption{IPPROTO_TCP, TCP_NODELAY, 1,
                                                         "TCP_NODELAY"}));  // Samba's default
  ASSERT_EQ(r.config.shares.size(), 1u);
  const ShareConfig& ipc = r.config.shares[0];
  EXPECT_EQ(ipc.name, "IPC$");
  EXPECT_TRUE(ipc.is_ipc);
  EXPECT_EQ(ipc.line, 0);
  EXPECT_EQ(ipc.comment, "IPC Service (xsmbd)");
  EXPECT_EQ(r.config.findShare("ipc$"), &r.config.shares[0]);
}

TEST_F(SmbConfTest, CommentsContinuationAndCrlf) {
  ParseResult r = parse(
      "# comment\r\n"
      "; another\r\n"
      "   [global]   \r\n"
      "server string = one \\\r\n"
      "two \\\n"
      "three\n"
      "workgroup = W\n"
      "[s]\n"
      "path = @DIR@\n"
      "\n"
      "bogus = 1\n");
  EXPECT_EQ(r.config.global.server_string, "one two three");
  EXPECT_EQ(r.config.global.workgroup, "W");
  // The continued logical line counts from where it starts; later lines keep their numbers.
  ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
  EXPECT_EQ(r.problems[0].line, 11);
  EXPECT_EQ(r.problems[0].message, "unknown parameter \"bogus\"");
}

TEST_F(SmbConfTest, ParametersBeforeAnySectionAreGlobal) {
  ParseResult r = parseSmbConf("workgroup = EARLY\n");
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.config.global.workgroup, "EARLY");
}

TEST_F(SmbConfTest, ShareParametersInGlobalAreDefaults) {
  ParseResult r = parse(
      "[global]\nread only = no\ncreate mask = 0600\nvalid users = alice\n"
      "[a]\npath = @DIR@\n"
      "[b]\npath = @DIR@\nread only = yes\n");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  ASSERT_EQ(r.config.shares.size(), 3u);
  EXPECT_FALSE(r.config.shares[0].read_only);
  EXPECT_EQ(r.config.shares[0].create_mask, 0600u);
  EXPECT_THAT(r.config.shares[0].valid_users, ElementsAre("alice"));
  EXPECT_TRUE(r.config.shares[1].read_only);
  EXPECT_EQ(r.config.shares[1].create_mask, 0600u);
}

TEST_F(SmbConfTest, IgnoredSambaParameters) {
  ParseResult r = parse(
      "[global]\nsecurity = user\nserver role = standalone server\npassdb backend = tdbsam\n"
      "log file = /var/log/samba/%m\nmax log size = 1000\nload printers = no\n"
      "printing = bsd\ndisable spoolss = yes\ndns proxy = no\nunix extensions = no\n"
      "[s]\npath = @DIR@\nvfs objects = acl_xattr\n");
  ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kWarning);
  EXPECT_EQ(r.problems[0].line, 14);
  EXPECT_THAT(r.problems[0].message, HasSubstr("vfs objects"));
}

TEST_F(SmbConfTest, ConfiguredIpcIsKeptAndMarked) {
  ParseResult r = parseSmbConf("[ipc$]\ncomment = pipes\n");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  ASSERT_EQ(r.config.shares.size(), 1u);
  EXPECT_TRUE(r.config.shares[0].is_ipc);
  EXPECT_EQ(r.config.shares[0].comment, "pipes");
  EXPECT_EQ(r.config.shares[0].line, 1);
}

TEST_F(SmbConfTest, RepeatedSectionIsMerged) {
  ParseResult r = parse("[s]\npath = @DIR@\n[S]\ncomment = later\n");
  ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kWarning);
  EXPECT_EQ(r.problems[0].line, 3);
  ASSERT_EQ(r.config.shares.size(), 2u);
  EXPECT_EQ(r.config.shares[0].comment, "later");
}

// Each bad input yields exactly one problem with this severity, line and message fragment.
TEST_F(SmbConfTest, ErrorsCarryTheirLineNumber) {
  struct Case {
    const char* text;
    Problem::Severity severity;
    int line;
    const char* message;
  };
  using S = Problem::Severity;
  const Case cases[] = {
      {"[global]\n\nfoo bar = 1\n", S::kError, 3, "unknown parameter \"foo bar\""},
      {"[global]\njust words\n", S::kError, 2, "malformed line \"just words\""},
      {"[global]\n= value\n", S::kError, 2, "missing parameter name"},
      {"[global\nworkgroup = x\n", S::kError, 1, "without closing ']'"},
      {"[]\n", S::kError, 1, "empty section name"},
      {"[global] junk\n", S::kWarning, 1, "text after section header"},
      {"bind interfaces only = maybe\n", S::kError, 1, "invalid boolean \"maybe\""},
      {"\nsmb ports = 445 0\n", S::kError, 2, "invalid port \"0\""},
      {"smb ports = 70000\n", S::kError, 1, "invalid port \"70000\""},
      {"smb ports = \n", S::kError, 1, "lists no port"},
      {"server min protocol = SMB4\n", S::kError, 1, "unknown protocol \"SMB4\""},
      {"server max protocol = NT1\n", S::kError, 1, "unsupported SMB1 protocol"},
      {"server min protocol = SMB3_11\nserver max protocol = SMB2_10\n", S::kError, 1,
       "server min protocol SMB3_11 is above server max protocol SMB2_10"},
      {"server signing = sometimes\n", S::kError, 1, "server signing"},
      {"map to guest = always\n", S::kError, 1, "map to guest"},
      {"guest account =\n", S::kError, 1, "guest account"},
      {"max connections = -1\n", S::kError, 1, "invalid number \"-1\""},
      {"max connections = 4294967296\n", S::kError, 1, "invalid number"},
      {"busy poll = 10001\n", S::kError, 1, "invalid number \"10001\" for \"busy poll\""},
      {"busy poll = fast\n", S::kError, 1, "invalid number \"fast\""},
      {"smb passwd file =\n", S::kError, 1, "smb passwd file"},
      {"log level = high\n", S::kError, 1, "log level"},
      {"log level = 11\n", S::kError, 1, "log level"},
      {"workgroup =\n", S::kError, 1, "workgroup"},
      {"netbios name = ABCDEFGHIJKLMNOPQ\n", S::kWarning, 1, "longer than 15"},
      {"include = /etc/other.conf\n", S::kWarning, 1, "not supported"},
      {"[s]\npath = @DIR@\nworkgroup = X\n", S::kWarning, 3, "global parameter \"workgroup\""},
      {"[s]\npath = @DIR@\ncreate mask = 0789\n", S::kError, 3, "invalid octal mask \"0789\""},
      {"[s]\npath = @DIR@\ndirectory mask = 017777\n", S::kError, 3, "invalid octal mask"},
      {"[s]\npath = @DIR@\nread only = perhaps\n", S::kError, 3, "invalid boolean"},
      {"[s]\ncomment = no path\n", S::kError, 1, "share [s] has no \"path\""},
      {"[s]\n\npath = /nonexistent/xsmbd-test\n", S::kError, 3, "does not exist"},
      {"[s]\npath = /etc/passwd\n", S::kError, 2, "is not a directory"},
      {"[a:b]\npath = @DIR@\n", S::kError, 1, "not allowed in share names"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ParseResult r = parse(c.text);
    ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
    EXPECT_EQ(r.problems[0].severity, c.severity);
    EXPECT_EQ(r.problems[0].line, c.line);
    EXPECT_THAT(r.problems[0].message, HasSubstr(c.message));
    EXPECT_EQ(r.hasErrors(), c.severity == S::kError);
  }
}

TEST_F(SmbConfTest, MissingShareIsReportedAndKept) {
  ParseResult r = parseSmbConf("[gone]\npath = /nonexistent/xsmbd\nread only = no\n");
  EXPECT_TRUE(r.hasErrors());
  const ShareConfig* s = r.config.findShare("gone");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->path, "/nonexistent/xsmbd");
  EXPECT_FALSE(s->read_only);
}

TEST_F(SmbConfTest, ProblemsAreInLineOrder) {
  ParseResult r = parse("[s]\npath = @DIR@\nworkgroup = x\n[global]\nbad = 1\n");
  ASSERT_EQ(r.problems.size(), 2u) << describe(r.problems);
  EXPECT_EQ(r.problems[0].line, 3);
  EXPECT_EQ(r.problems[1].line, 5);
}

TEST_F(SmbConfTest, BrokenSectionHeaderSwallowsItsParameters) {
  // Without the closing bracket the parameters must not leak into [global].
  ParseResult r = parseSmbConf("[oops\nworkgroup = LEAKED\n");
  EXPECT_EQ(r.config.global.workgroup, "WORKGROUP");
  EXPECT_EQ(r.config.shares.size(), 1u);  // IPC$ only
}

TEST_F(SmbConfTest, LoadSmbConfFromFile) {
  std::string path = dir_.path() + "/smb.conf";
  {
    std::ofstream f(path);
    f << "[global]\nworkgroup = FROMFILE\n";
  }
  auto r = loadSmbConf(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.global.workgroup, "FROMFILE");
  EXPECT_EQ(loadSmbConf(dir_.path() + "/missing.conf").status().code(),
            absl::StatusCode::kNotFound);
  if (geteuid() != 0) {
    chmod(path.c_str(), 0);
    EXPECT_EQ(loadSmbConf(path).status().code(), absl::StatusCode::kPermissionDenied);
  }
}

}  // namespace
}  // namespace xsmb::config
