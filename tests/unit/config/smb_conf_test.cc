#include "server/config/smb_conf.h"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
  busy poll = 0
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
  EXPECT_EQ(g.busy_poll_usecs, 0u);
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
use sendfile = yes
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
  EXPECT_TRUE(s->use_sendfile);
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
  EXPECT_FALSE(s.use_sendfile);  // as Samba's default
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

TEST_F(SmbConfTest, SocketOptions) {
  ParseResult r = parse(
      "socket options = tcp_nodelay SO_RCVBUF=131072,IPTOS_LOWDELAY  so_keepalive=0\t"
      "TCP_KEEPIDLE=30 TCP_USER_TIMEOUT=5000\n");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_THAT(
      r.config.global.socket_options,
      ElementsAre(SocketOption{IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"},
                  SocketOption{SOL_SOCKET, SO_RCVBUF, 131072, "SO_RCVBUF=131072"},
                  SocketOption{IPPROTO_IP, IP_TOS, IPTOS_LOWDELAY, "IPTOS_LOWDELAY"},
                  SocketOption{SOL_SOCKET, SO_KEEPALIVE, 0, "SO_KEEPALIVE=0"},
                  SocketOption{IPPROTO_TCP, TCP_KEEPIDLE, 30, "TCP_KEEPIDLE=30"},
                  SocketOption{IPPROTO_TCP, TCP_USER_TIMEOUT, 5000, "TCP_USER_TIMEOUT=5000"}));
  // An empty list turns even TCP_NODELAY off, as in Samba.
  EXPECT_THAT(parse("socket options =\n").config.global.socket_options, IsEmpty());
  // Words Samba knows that do nothing on a connection: a warning, the rest still applies.
  r = parse("socket options = SO_REUSEADDR TCP_NODELAY\n");
  ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kWarning);
  EXPECT_THAT(r.problems[0].message, HasSubstr("SO_REUSEADDR has no effect"));
  EXPECT_THAT(r.config.global.socket_options,
              ElementsAre(SocketOption{IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"}));
  const char* errors[][2] = {
      {"socket options = SO_FOO\n", "unknown socket option \"SO_FOO\""},
      {"socket options = SO_RCVBUF\n", "SO_RCVBUF needs a number"},
      {"socket options = SO_SNDBUF=lots\n", "SO_SNDBUF needs a number"},
      {"socket options = SO_SNDBUF=4294967296\n", "SO_SNDBUF needs a number"},
      {"socket options = TCP_NODELAY=yes\n", "invalid value \"yes\" for socket option"},
      {"socket options = IPTOS_LOWDELAY=1\n", "IPTOS_LOWDELAY takes no value"},
      {"socket options = SO_RCVLOWAT=1\n", "SO_RCVLOWAT is not supported"},
      {"socket options = SO_RCVTIMEO=5\n", "non-blocking"},
  };
  for (const auto& [text, message] : errors) {
    SCOPED_TRACE(text);
    ParseResult e = parse(text);
    ASSERT_EQ(e.problems.size(), 1u) << describe(e.problems);
    EXPECT_EQ(e.problems[0].severity, Problem::Severity::kError);
    EXPECT_THAT(e.problems[0].message, HasSubstr(message));
    // A refused list leaves the default in place.
    EXPECT_THAT(e.config.global.socket_options, ElementsAre(defaultSocketOption()));
  }
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
socket options = so_keepalive TCP_KEEPIDLE=60 SO_SNDBUF=262144 IPTOS_THROUGHPUT TCP_QUICKACK=0
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

TEST_F(SmbConfTest, EncryptionAndKerberosDefaults) {
  ParseResult r = parse("[s]\npath = @DIR@\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  const GlobalConfig& g = r.config.global;
  EXPECT_EQ(g.server_smb_encrypt, EncryptPolicy::kIfRequired);
  EXPECT_THAT(g.server_smb3_encryption_algorithms, ElementsAre(2, 1, 4, 3));
  EXPECT_THAT(g.server_smb3_signing_algorithms, ElementsAre(2, 1, 0));
  EXPECT_EQ(g.kerberos_keytab_file, "");
  EXPECT_EQ(g.realm, "");
  ASSERT_EQ(r.config.shares.size(), 2u);
  EXPECT_EQ(r.config.shares[0].smb_encrypt, EncryptPolicy::kIfRequired);
  EXPECT_EQ(r.config.shares[1].smb_encrypt, EncryptPolicy::kIfRequired);
}

// Every word of Samba's enum_smb_encryption_vals, through both parameter names and both scopes.
TEST_F(SmbConfTest, SmbEncryptWords) {
  const std::pair<const char*, EncryptPolicy> words[] = {
      {"off", EncryptPolicy::kOff},
      {"No", EncryptPolicy::kOff},
      {"false", EncryptPolicy::kOff},
      {"0", EncryptPolicy::kOff},
      {"disabled", EncryptPolicy::kOff},
      {"if_required", EncryptPolicy::kIfRequired},
      {"IF_REQUIRED", EncryptPolicy::kIfRequired},
      {"default", EncryptPolicy::kIfRequired},
      {"yes", EncryptPolicy::kIfRequired},
      {"True", EncryptPolicy::kIfRequired},
      {"1", EncryptPolicy::kIfRequired},
      {"on", EncryptPolicy::kIfRequired},
      {"enabled", EncryptPolicy::kIfRequired},
      {"auto", EncryptPolicy::kIfRequired},
      {"desired", EncryptPolicy::kDesired},
      {"Desired", EncryptPolicy::kDesired},
      {"required", EncryptPolicy::kRequired},
      {"mandatory", EncryptPolicy::kRequired},
      {"force", EncryptPolicy::kRequired},
      {"forced", EncryptPolicy::kRequired},
      {"enforced", EncryptPolicy::kRequired},
  };
  for (const auto& [word, want] : words) {
    for (const char* name : {"server smb encrypt", "smb encrypt", "Server_SMB_Encrypt"}) {
      SCOPED_TRACE(std::string(name) + " = " + word);
      // Global first turns encryption off; the share overrides only itself.
      ParseResult r = parse(std::string("[global]\nserver smb encrypt = off\n[s]\npath = @DIR@\n") +
                            name + " = " + word + "\n");
      ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
      EXPECT_EQ(r.config.global.server_smb_encrypt, EncryptPolicy::kOff);
      EXPECT_EQ(r.config.shares[0].smb_encrypt, want);

      r = parseSmbConf(std::string("[global]\n") + name + " = " + word + "\n");
      ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
      EXPECT_EQ(r.config.global.server_smb_encrypt, want);
    }
  }
}

TEST_F(SmbConfTest, GlobalSmbEncryptIsTheShareDefault) {
  ParseResult r = parse(
      "[global]\nsmb encrypt = required\n"
      "[a]\npath = @DIR@\n"
      "[b]\npath = @DIR@\nserver smb encrypt = desired\n"
      "[c]\npath = @DIR@\nserver smb encrypt = off\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.server_smb_encrypt, EncryptPolicy::kRequired);
  ASSERT_EQ(r.config.shares.size(), 4u);
  EXPECT_EQ(r.config.findShare("a")->smb_encrypt, EncryptPolicy::kRequired);
  EXPECT_EQ(r.config.findShare("b")->smb_encrypt, EncryptPolicy::kDesired);
  EXPECT_EQ(r.config.findShare("c")->smb_encrypt, EncryptPolicy::kOff);
  // The implicit IPC$ follows [global] too, as Samba's does.
  EXPECT_EQ(r.config.findShare("IPC$")->smb_encrypt, EncryptPolicy::kRequired);

  // A share's setting never changes the global value, whatever the order of sections.
  r = parse("[a]\npath = @DIR@\nsmb encrypt = required\n[global]\nworkgroup = W\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.server_smb_encrypt, EncryptPolicy::kIfRequired);
  EXPECT_EQ(r.config.shares[0].smb_encrypt, EncryptPolicy::kRequired);
}

TEST_F(SmbConfTest, AlgorithmLists) {
  struct Case {
    const char* lines;
    std::vector<uint16_t> ciphers, signers;
  };
  const Case cases[] = {
      {"server smb3 encryption algorithms = AES-256-GCM\n", {4}, {2, 1, 0}},
      {"server smb3 encryption algorithms = aes-256-gcm, aes-128-ccm aes-256-ccm\n",
       {4, 1, 3},
       {2, 1, 0}},
      {"server smb3 encryption algorithms = AES-128-CCM,AES-128-GCM\n", {1, 2}, {2, 1, 0}},
      {"server smb3 encryption algorithms = default\n", {2, 1, 4, 3}, {2, 1, 0}},
      {"server smb3 encryption algorithms = AES-128-GCM\n"
       "server smb3 encryption algorithms = Default\n",
       {2, 1, 4, 3},
       {2, 1, 0}},
      {"server smb3 signing algorithms = HMAC-SHA256\n", {2, 1, 4, 3}, {0}},
      {"server smb3 signing algorithms = hmac-sha-256, AES-128-cmac\n", {2, 1, 4, 3}, {0, 1}},
      {"server_smb3_signing_algorithms = AES-128-GMAC\n", {2, 1, 4, 3}, {2}},
      // Samba's edit syntax: remove from / append to the value so far.
      {"server smb3 encryption algorithms = -AES-128-GCM -AES-128-CCM\n", {4, 3}, {2, 1, 0}},
      {"server smb3 signing algorithms = -AES-128-CMAC\n", {2, 1, 4, 3}, {2, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.lines);
    ParseResult r = parseSmbConf(c.lines);
    ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
    EXPECT_EQ(r.config.global.server_smb3_encryption_algorithms, c.ciphers);
    EXPECT_EQ(r.config.global.server_smb3_signing_algorithms, c.signers);
  }
}

TEST_F(SmbConfTest, AlgorithmListEditsApply) {
  ParseResult r = parseSmbConf(
      "server smb3 encryption algorithms = AES-128-CCM\n"
      "server smb3 encryption algorithms = +AES-256-GCM +AES-128-CCM -AES-256-CCM\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_THAT(r.config.global.server_smb3_encryption_algorithms, ElementsAre(1, 4));
}

TEST_F(SmbConfTest, AlgorithmListDuplicateIsAWarning) {
  ParseResult r = parseSmbConf("\nserver smb3 signing algorithms = AES-128-CMAC aes-128-cmac\n");
  ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
  EXPECT_EQ(r.problems[0].severity, Problem::Severity::kWarning);
  EXPECT_EQ(r.problems[0].line, 2);
  EXPECT_THAT(r.problems[0].message, HasSubstr("listed twice"));
  EXPECT_THAT(r.config.global.server_smb3_signing_algorithms, ElementsAre(1));
}

TEST_F(SmbConfTest, AlgorithmNames) {
  EXPECT_EQ(encryptionAlgorithmFromName("AES-128-CCM"), 1);
  EXPECT_EQ(encryptionAlgorithmFromName("aes-128-gcm"), 2);
  EXPECT_EQ(encryptionAlgorithmFromName("AES-256-CCM"), 3);
  EXPECT_EQ(encryptionAlgorithmFromName("Aes-256-Gcm"), 4);
  EXPECT_EQ(encryptionAlgorithmFromName("AES-128-GMAC"), std::nullopt);
  EXPECT_EQ(encryptionAlgorithmFromName("AES128GCM"), std::nullopt);
  EXPECT_EQ(signingAlgorithmFromName("HMAC-SHA256"), 0);
  EXPECT_EQ(signingAlgorithmFromName("hmac-sha-256"), 0);
  EXPECT_EQ(signingAlgorithmFromName("AES-128-CMAC"), 1);
  EXPECT_EQ(signingAlgorithmFromName("aes-128-gmac"), 2);
  EXPECT_EQ(signingAlgorithmFromName("AES-128-GCM"), std::nullopt);
  EXPECT_EQ(encryptionAlgorithmName(1), "AES-128-CCM");
  EXPECT_EQ(encryptionAlgorithmName(2), "AES-128-GCM");
  EXPECT_EQ(encryptionAlgorithmName(3), "AES-256-CCM");
  EXPECT_EQ(encryptionAlgorithmName(4), "AES-256-GCM");
  EXPECT_EQ(encryptionAlgorithmName(9), "0x0009");
  EXPECT_EQ(signingAlgorithmName(0), "HMAC-SHA256");
  EXPECT_EQ(signingAlgorithmName(1), "AES-128-CMAC");
  EXPECT_EQ(signingAlgorithmName(2), "AES-128-GMAC");
  EXPECT_EQ(signingAlgorithmName(3), "0x0003");
}

TEST_F(SmbConfTest, KerberosKeytabAndRealm) {
  ParseResult r = parseSmbConf(
      "[global]\nkerberos keytab file = /etc/xsmbd/krb5.keytab\nrealm = example.com\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.kerberos_keytab_file, "/etc/xsmbd/krb5.keytab");
  EXPECT_EQ(r.config.global.realm, "EXAMPLE.COM");

  r = parseSmbConf("dedicated keytab file = /k.keytab\nREALM = Ad.Example.Org\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.kerberos_keytab_file, "/k.keytab");
  EXPECT_EQ(r.config.global.realm, "AD.EXAMPLE.ORG");

  // Empty values switch Kerberos off again.
  r = parseSmbConf("kerberos keytab file = /k\nkerberos keytab file =\nrealm = X\nrealm =\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.kerberos_keytab_file, "");
  EXPECT_EQ(r.config.global.realm, "");
}

// Each bad value yields exactly one problem on its own line and leaves the default in place.
TEST_F(SmbConfTest, EncryptionParameterErrors) {
  struct Case {
    const char* text;
    Problem::Severity severity;
    int line;
    const char* message;
  };
  using S = Problem::Severity;
  const Case cases[] = {
      {"[global]\nserver smb encrypt = sometimes\n", S::kError, 2,
       "invalid value \"sometimes\" for \"server smb encrypt\""},
      {"\n\nsmb encrypt = \n", S::kError, 3, "for \"server smb encrypt\""},
      {"[s]\npath = @DIR@\nsmb encrypt = maybe\n", S::kError, 3, "invalid value \"maybe\""},
      {"\nserver smb3 encryption algorithms = AES-128-GCM, ChaCha20\n", S::kError, 2,
       "unknown algorithm \"ChaCha20\" in \"server smb3 encryption algorithms\""},
      {"server smb3 encryption algorithms = AES-128-GMAC\n", S::kError, 1,
       "unknown algorithm \"AES-128-GMAC\""},
      {"server smb3 signing algorithms = HMAC-MD5\n", S::kError, 1,
       "unknown algorithm \"HMAC-MD5\" in \"server smb3 signing algorithms\""},
      {"server smb3 signing algorithms = AES-128-GCM\n", S::kError, 1, "unknown algorithm"},
      {"[global]\n\nserver smb3 encryption algorithms =\n", S::kError, 3, "leaves no algorithm"},
      {"server smb3 signing algorithms = ,\n", S::kError, 1, "leaves no algorithm"},
      {"server smb3 signing algorithms = -AES-128-GMAC -AES-128-CMAC -HMAC-SHA256\n", S::kError, 1,
       "leaves no algorithm"},
      {"server smb3 encryption algorithms = -AES-128-GCM AES-128-CCM\n", S::kError, 1,
       "mixes names with +/- edits"},
      {"server smb3 encryption algorithms = AES-128-GCM +AES-128-CCM\n", S::kError, 1,
       "mixes names"},
      {"server smb3 encryption algorithms = -AES-128-GCM -AES-512-GCM\n", S::kError, 1,
       "unknown algorithm \"AES-512-GCM\""},
      {"server smb3 encryption algorithms = default AES-128-GCM\n", S::kError, 1,
       "unknown algorithm \"default\""},
      {"[s]\npath = @DIR@\nrealm = X\n", S::kWarning, 3, "global parameter \"realm\""},
      {"[s]\npath = @DIR@\nserver smb3 signing algorithms = default\n", S::kWarning, 3,
       "global parameter"},
      {"kerberos keytab file = krb5.keytab\n", S::kWarning, 1, "not an absolute path"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ParseResult r = parse(c.text);
    ASSERT_EQ(r.problems.size(), 1u) << describe(r.problems);
    EXPECT_EQ(r.problems[0].severity, c.severity);
    EXPECT_EQ(r.problems[0].line, c.line);
    EXPECT_THAT(r.problems[0].message, HasSubstr(c.message));
    const GlobalConfig& g = r.config.global;
    EXPECT_EQ(g.server_smb_encrypt, EncryptPolicy::kIfRequired);
    EXPECT_THAT(g.server_smb3_encryption_algorithms, ElementsAre(2, 1, 4, 3));
    EXPECT_THAT(g.server_smb3_signing_algorithms, ElementsAre(2, 1, 0));
    EXPECT_EQ(g.realm, "");
    for (const ShareConfig& s : r.config.shares) {
      EXPECT_EQ(s.smb_encrypt, EncryptPolicy::kIfRequired) << s.name;
    }
  }
}

TEST_F(SmbConfTest, EncryptionSettingsRender) {
  Config c = embeddedDefault(dir_.path(), 445, "/tmp/u.db");
  std::string text = renderConfig(c);
  EXPECT_THAT(text, HasSubstr("\tserver smb encrypt = if_required\n"));
  EXPECT_THAT(text, HasSubstr("\tserver smb3 encryption algorithms = AES-128-GCM, AES-128-CCM, "
                              "AES-256-GCM, AES-256-CCM\n"));
  EXPECT_THAT(text, HasSubstr("\tserver smb3 signing algorithms = AES-128-GMAC, AES-128-CMAC, "
                              "HMAC-SHA256\n"));
  EXPECT_THAT(text, HasSubstr("\tkerberos keytab file = \n"));
  EXPECT_THAT(text, HasSubstr("\trealm = \n"));

  c.global.server_smb_encrypt = EncryptPolicy::kDesired;
  c.global.server_smb3_encryption_algorithms = {3};
  c.global.server_smb3_signing_algorithms = {0, 2};
  c.global.kerberos_keytab_file = "/etc/krb5.keytab";
  c.global.realm = "LAB.TEST";
  c.shares[0].smb_encrypt = EncryptPolicy::kRequired;
  c.shares[1].smb_encrypt = EncryptPolicy::kOff;
  text = renderConfig(c);
  EXPECT_THAT(text, HasSubstr("\tserver smb encrypt = desired\n"));
  EXPECT_THAT(text, HasSubstr("\tserver smb encrypt = required\n"));
  EXPECT_THAT(text, HasSubstr("\tserver smb encrypt = off\n"));
  EXPECT_THAT(text, HasSubstr("\tserver smb3 encryption algorithms = AES-256-CCM\n"));
  EXPECT_THAT(text, HasSubstr("\tserver smb3 signing algorithms = HMAC-SHA256, AES-128-GMAC\n"));
  EXPECT_THAT(text, HasSubstr("\tkerberos keytab file = /etc/krb5.keytab\n"));
  EXPECT_THAT(text, HasSubstr("\trealm = LAB.TEST\n"));
  ParseResult r = parseSmbConf(text);
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems) << text;
  for (ShareConfig& s : r.config.shares) s.line = 0;
  EXPECT_EQ(r.config, c) << text;
}

// Every policy in every place, and every algorithm order the parser can produce, survive
// renderConfig -> parseSmbConf.
TEST_F(SmbConfTest, EncryptionSettingsRoundTrip) {
  const EncryptPolicy policies[] = {EncryptPolicy::kOff, EncryptPolicy::kIfRequired,
                                    EncryptPolicy::kDesired, EncryptPolicy::kRequired};
  for (EncryptPolicy global : policies) {
    for (EncryptPolicy share : policies) {
      Config c = embeddedDefault(dir_.path(), 445, "/tmp/u.db");
      c.global.server_smb_encrypt = global;
      c.shares[0].smb_encrypt = share;
      c.shares[1].smb_encrypt = global;
      ParseResult r = parseSmbConf(renderConfig(c));
      ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
      for (ShareConfig& s : r.config.shares) s.line = 0;
      EXPECT_EQ(r.config, c) << renderConfig(c);
    }
  }
  std::vector<uint16_t> ciphers = {1, 2, 3, 4};
  do {
    Config c = embeddedDefault(dir_.path(), 445, "/tmp/u.db");
    c.global.server_smb3_encryption_algorithms = ciphers;
    c.global.server_smb3_signing_algorithms = {static_cast<uint16_t>(ciphers[0] % 3),
                                               static_cast<uint16_t>((ciphers[0] + 1) % 3)};
    ParseResult r = parseSmbConf(renderConfig(c));
    ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
    EXPECT_EQ(r.config.global, c.global) << renderConfig(c);
  } while (std::next_permutation(ciphers.begin(), ciphers.end()));

  ParseResult first = parse(R"([global]
smb encrypt = mandatory
server smb3 encryption algorithms = -AES-128-CCM
server smb3 signing algorithms = hmac-sha-256 aes-128-gmac
dedicated keytab file = /var/lib/xsmbd/krb5.keytab
realm = corp.example
[open]
path = @DIR@
server smb encrypt = off
[sealed]
path = @DIR@
)");
  ASSERT_THAT(first.problems, IsEmpty()) << describe(first.problems);
  std::string text = renderConfig(first.config);
  ParseResult second = parseSmbConf(text);
  ASSERT_THAT(second.problems, IsEmpty()) << describe(second.problems) << text;
  for (ShareConfig& s : first.config.shares) s.line = 0;
  for (ShareConfig& s : second.config.shares) s.line = 0;
  EXPECT_EQ(second.config, first.config) << text;
  EXPECT_EQ(renderConfig(second.config), text);
  EXPECT_THAT(second.config.global.server_smb3_encryption_algorithms, ElementsAre(2, 4, 3));
  EXPECT_THAT(second.config.global.server_smb3_signing_algorithms, ElementsAre(0, 2));
  EXPECT_EQ(second.config.global.realm, "CORP.EXAMPLE");
  EXPECT_EQ(second.config.findShare("open")->smb_encrypt, EncryptPolicy::kOff);
  EXPECT_EQ(second.config.findShare("sealed")->smb_encrypt, EncryptPolicy::kRequired);
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
