#include "server/config/smb_conf.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xsmb::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A temporary directory that exists for the test's lifetime.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::string(::testing::TempDir()) + "/xsmbconf.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& p : problems) {
    out += (p.severity == Problem::Severity::kError ? "E" : "W") + std::to_string(p.line) + ": " +
           p.message + "\n";
  }
  return out;
}

class SmbConfTest : public ::testing::Test {
 protected:
  // Replaces @DIR@ by an existing directory so that share paths check out.
  ParseResult parse(std::string text) {
    for (size_t pos; (pos = text.find("@DIR@")) != std::string::npos;) {
      text.replace(pos, 5, dir_.path());
    }
    return parseSmbConf(text);
  }
  TempDir dir_;
};

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
  ASSERT_EQ(r.config.shares.size(), 1u);
  const ShareConfig& ipc = r.config.shares[0];
  EXPECT_EQ(ipc.name, "IPC$");
  EXPECT_TRUE(ipc.is_ipc);
  EXPECT_EQ(ipc.line, 0);
  EXPECT_EQ(ipc.comment, "IPC Service (xsmbd)");
  EXPECT_EQ(r.config.findShare("ipc$"), &r.config.shares[0]);
}

TEST_F(SmbConfTest, EveryGlobalParameter) {
  ParseResult r = parse(R"(
[global]
  workgroup = example
  netbios name = fileserver
  server string = Files of %h
  smb ports = 4445 139
  interfaces = lo 192.168.1.10/24, eth0
  bind interfaces only = yes
  server min protocol = SMB2_10
  server max protocol = SMB3_02
  server signing = mandatory
  map to guest = bad user
  guest account = guest
  max connections = 100
  smb passwd file = /etc/xsmbd/users.db
  log level = 3 auth:5
)");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  const GlobalConfig& g = r.config.global;
  EXPECT_EQ(g.workgroup, "EXAMPLE");
  EXPECT_EQ(g.netbios_name, "FILESERVER");
  EXPECT_EQ(g.server_string, "Files of %h");
  EXPECT_THAT(g.smb_ports, ElementsAre(4445, 139));
  EXPECT_THAT(g.interfaces, ElementsAre("lo", "192.168.1.10/24", "eth0"));
  EXPECT_TRUE(g.bind_interfaces_only);
  EXPECT_EQ(g.server_min_protocol, 0x0210);
  EXPECT_EQ(g.server_max_protocol, 0x0302);
  EXPECT_EQ(g.server_signing, SigningPolicy::kMandatory);
  EXPECT_EQ(g.map_to_guest, MapToGuest::kBadUser);
  EXPECT_EQ(g.guest_account, "guest");
  EXPECT_EQ(g.max_connections, 100u);
  EXPECT_EQ(g.smb_passwd_file, "/etc/xsmbd/users.db");
  EXPECT_EQ(g.log_level, 3);
}

TEST_F(SmbConfTest, EveryShareParameter) {
  ParseResult r = parse(R"([data]
path = @DIR@
comment = Team data
read only = no
guest ok = yes
valid users = alice, bob "Domain Users"
invalid users = root
browseable = no
create mask = 0600
directory mask = 700
force user = www-data
force group = staff
)");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  const ShareConfig* s = r.config.findShare("DATA");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "data");
  EXPECT_EQ(s->line, 1);
  EXPECT_EQ(s->path, dir_.path());
  EXPECT_EQ(s->comment, "Team data");
  EXPECT_FALSE(s->read_only);
  EXPECT_TRUE(s->guest_ok);
  EXPECT_THAT(s->valid_users, ElementsAre("alice", "bob", "Domain Users"));
  EXPECT_THAT(s->invalid_users, ElementsAre("root"));
  EXPECT_FALSE(s->browseable);
  EXPECT_EQ(s->create_mask, 0600u);
  EXPECT_EQ(s->directory_mask, 0700u);
  EXPECT_EQ(s->force_user, "www-data");
  EXPECT_EQ(s->force_group, "staff");
  EXPECT_FALSE(s->is_ipc);
  ASSERT_EQ(r.config.shares.size(), 2u);  // + implicit IPC$
  EXPECT_TRUE(r.config.shares[1].is_ipc);
}

TEST_F(SmbConfTest, ShareDefaultsWhenUnset) {
  ParseResult r = parse("[s]\npath = @DIR@\n");
  ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
  const ShareConfig& s = r.config.shares[0];
  EXPECT_TRUE(s.read_only);
  EXPECT_FALSE(s.guest_ok);
  EXPECT_TRUE(s.browseable);
  EXPECT_EQ(s.create_mask, 0744u);
  EXPECT_EQ(s.directory_mask, 0755u);
}

// Synonyms and spelling variants Samba accepts, each with the field value it must produce.
TEST_F(SmbConfTest, AliasesAndNameNormalization) {
  struct Case {
    const char* line;
    bool read_only, guest_ok, browseable;
    uint32_t create_mask;
  };
  const Case cases[] = {
      {"writeable = yes", false, false, true, 0744},
      {"writable = true", false, false, true, 0744},
      {"write ok = 1", false, false, true, 0744},
      {"WRITEABLE = No", true, false, true, 0744},
      {"Read_Only = off", false, false, true, 0744},
      {"readonly = on", true, false, true, 0744},
      {"public = yes", true, true, true, 0744},
      {"guest_ok = TRUE", true, true, true, 0744},
      {"browsable = no", true, false, false, 0744},
      {"create mode = 0640", true, false, true, 0640},
  };
  for (const Case& c : cases) {
    ParseResult r = parse(std::string("[s]\npath = @DIR@\n") + c.line + "\n");
    SCOPED_TRACE(c.line);
    ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
    EXPECT_THAT(r.problems, IsEmpty());
    const ShareConfig& s = r.config.shares[0];
    EXPECT_EQ(s.read_only, c.read_only);
    EXPECT_EQ(s.guest_ok, c.guest_ok);
    EXPECT_EQ(s.browseable, c.browseable);
    EXPECT_EQ(s.create_mask, c.create_mask);
  }
  ParseResult r = parse(
      "[global]\nmin protocol = SMB3\nprotocol = SMB3_11\ndebuglevel = 0\n"
      "[s]\ndirectory = @DIR@\ndirectory mode = 0711\n");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.server_min_protocol, 0x0311);
  EXPECT_EQ(r.config.global.server_max_protocol, 0x0311);
  EXPECT_EQ(r.config.global.log_level, 0);
  EXPECT_EQ(r.config.shares[0].path, dir_.path());
  EXPECT_EQ(r.config.shares[0].directory_mask, 0711u);
}

TEST_F(SmbConfTest, SigningAndMapToGuestWords) {
  const std::pair<const char*, SigningPolicy> signing[] = {
      {"disabled", SigningPolicy::kDisabled},  {"no", SigningPolicy::kDisabled},
      {"Off", SigningPolicy::kDisabled},       {"auto", SigningPolicy::kAuto},
      {"yes", SigningPolicy::kAuto},           {"enabled", SigningPolicy::kAuto},
      {"default", SigningPolicy::kAuto},       {"mandatory", SigningPolicy::kMandatory},
      {"required", SigningPolicy::kMandatory},
  };
  for (const auto& [word, want] : signing) {
    ParseResult r = parseSmbConf(std::string("server signing = ") + word + "\n");
    EXPECT_THAT(r.problems, IsEmpty()) << word;
    EXPECT_EQ(r.config.global.server_signing, want) << word;
  }
  const std::pair<const char*, MapToGuest> guest[] = {
      {"Never", MapToGuest::kNever},
      {"Bad User", MapToGuest::kBadUser},
      {"bad_user", MapToGuest::kBadUser},
      {"Bad Password", MapToGuest::kBadPassword},
  };
  for (const auto& [word, want] : guest) {
    ParseResult r = parseSmbConf(std::string("map to guest = ") + word + "\n");
    EXPECT_THAT(r.problems, IsEmpty()) << word;
    EXPECT_EQ(r.config.global.map_to_guest, want) << word;
  }
}

TEST_F(SmbConfTest, ProtocolNames) {
  EXPECT_EQ(dialectFromProtocolName("SMB2_02"), 0x0202);
  EXPECT_EQ(dialectFromProtocolName("smb2_10"), 0x0210);
  EXPECT_EQ(dialectFromProtocolName("SMB2"), 0x0210);
  EXPECT_EQ(dialectFromProtocolName("SMB3"), 0x0311);
  EXPECT_EQ(dialectFromProtocolName("SMB3_00"), 0x0300);
  EXPECT_EQ(dialectFromProtocolName("SMB3_02"), 0x0302);
  EXPECT_EQ(dialectFromProtocolName("SMB3_11"), 0x0311);
  EXPECT_EQ(dialectFromProtocolName("NT1"), std::nullopt);
  EXPECT_EQ(dialectFromProtocolName("SMB3_1"), std::nullopt);
  EXPECT_EQ(protocolNameFromDialect(0x0202), "SMB2_02");
  EXPECT_EQ(protocolNameFromDialect(0x0311), "SMB3_11");
  EXPECT_EQ(protocolNameFromDialect(0x02FF), "0x02ff");
}

TEST_F(SmbConfTest, Smb1MinProtocolIsAWarning) {
  ParseResult r = parseSmbConf("[global]\nserver min protocol = NT1\n");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kWarning);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_FALSE(r.hasErrors());
  EXPECT_EQ(r.config.global.server_min_protocol, 0x0202);
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

TEST_F(SmbConfTest, EmbeddedDefaultRoundTrips) {
  Config c = embeddedDefault(dir_.path(), 4450, "/tmp/users.db");
  EXPECT_EQ(c.global.smb_ports, std::vector<uint16_t>{4450});
  EXPECT_THAT(c.global.interfaces, ElementsAre("127.0.0.1"));
  EXPECT_TRUE(c.global.bind_interfaces_only);
  EXPECT_EQ(c.global.map_to_guest, MapToGuest::kBadUser);
  EXPECT_EQ(c.global.smb_passwd_file, "/tmp/users.db");
  const ShareConfig* demo = c.findShare("demo");
  ASSERT_NE(demo, nullptr);
  EXPECT_EQ(demo->path, dir_.path());
  EXPECT_FALSE(demo->read_only);
  EXPECT_TRUE(demo->guest_ok);
  ASSERT_NE(c.findShare("IPC$"), nullptr);
  EXPECT_TRUE(c.findShare("IPC$")->is_ipc);

  std::string text = renderConfig(c);
  EXPECT_THAT(text, HasSubstr("\tsmb ports = 4450\n"));
  EXPECT_THAT(text, HasSubstr("\tmap to guest = Bad User\n"));
  EXPECT_THAT(text, HasSubstr("\tcreate mask = 0744\n"));
  ParseResult r = parseSmbConf(text);
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems) << text;
  for (ShareConfig& s : r.config.shares) s.line = 0;
  EXPECT_EQ(r.config, c) << text;
  EXPECT_EQ(renderConfig(r.config), text);
}

TEST_F(SmbConfTest, FullConfigRoundTrips) {
  ParseResult first = parse(R"([global]
workgroup = LAB
netbios name = NAS
server string = "lab nas"
smb ports = 445 139
interfaces = lo "10.0.0.1/8"
server min protocol = SMB3_00
server signing = disabled
map to guest = Bad Password
max connections = 7
log level = 4
[data]
path = @DIR@
valid users = alice, "Domain Users"
invalid users = eve
browseable = no
create mask = 0
force user = alice
[IPC$]
)");
  ASSERT_THAT(first.problems, IsEmpty()) << describe(first.problems);
  std::string text = renderConfig(first.config);
  ParseResult second = parseSmbConf(text);
  ASSERT_THAT(second.problems, IsEmpty()) << describe(second.problems) << text;
  for (ShareConfig& s : first.config.shares) s.line = 0;
  for (ShareConfig& s : second.config.shares) s.line = 0;
  EXPECT_EQ(second.config, first.config) << text;
}

TEST_F(SmbConfTest, RenderedTrailingBackslashDoesNotContinue) {
  Config c = embeddedDefault(dir_.path(), 445, "/tmp/u.db");
  c.shares[0].comment = "C:\\";
  c.global.server_string = "srv\\";
  ParseResult r = parseSmbConf(renderConfig(c));
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.shares[0].comment, "C:\\");
  EXPECT_EQ(r.config.global.server_string, "srv\\");
  EXPECT_EQ(r.config.shares[0].path, dir_.path());
}

TEST(ListenAddressesTest, AllAddressesUnlessBound) {
  GlobalConfig g;
  g.interfaces = {"127.0.0.1"};
  auto addrs = listenAddresses(g);
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  EXPECT_THAT(*addrs, ElementsAre("0.0.0.0", "::"));
}

TEST(ListenAddressesTest, BoundAddressesCidrsAndLoopbackInterface) {
  GlobalConfig g;
  g.bind_interfaces_only = true;
  g.interfaces = {"127.0.0.1", "10.1.2.3/24", "::1", "127.0.0.1"};
  auto addrs = listenAddresses(g);
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  EXPECT_THAT(*addrs, ElementsAre("127.0.0.1", "10.1.2.3", "::1"));

  g.interfaces = {"lo"};
  addrs = listenAddresses(g);
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  EXPECT_THAT(*addrs, ::testing::Contains("127.0.0.1"));
}

TEST(ListenAddressesTest, Errors) {
  GlobalConfig g;
  g.bind_interfaces_only = true;
  EXPECT_EQ(listenAddresses(g).status().code(), absl::StatusCode::kInvalidArgument);
  g.interfaces = {"no-such-if0"};
  EXPECT_EQ(listenAddresses(g).status().code(), absl::StatusCode::kNotFound);
  g.interfaces = {"300.1.1.1/8"};
  EXPECT_EQ(listenAddresses(g).status().code(), absl::StatusCode::kInvalidArgument);
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
