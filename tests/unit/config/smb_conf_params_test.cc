// The parameters: every Samba name and alias xsmbd takes, the words of its values, its
// default and its errors, and the listen addresses "interfaces" resolves to.
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

// SMB Direct: defaults, every word, the port, errors, and the rendered
// values parsing back to the same configuration.
TEST_F(SmbConfTest, SmbDirectModeAndPort) {
  ParseResult r = parseSmbConf("[global]\n");
  EXPECT_EQ(r.config.global.smb_direct, SmbDirectMode::kNo);
  EXPECT_EQ(r.config.global.smb_direct_port, 0);
  const std::pair<const char*, SmbDirectMode> words[] = {
      {"yes", SmbDirectMode::kYes},   {"True", SmbDirectMode::kYes}, {"on", SmbDirectMode::kYes},
      {"AUTO", SmbDirectMode::kAuto}, {"no", SmbDirectMode::kNo},    {"0", SmbDirectMode::kNo}};
  for (const auto& [word, mode] : words) {
    r = parseSmbConf(std::string("smb direct = ") + word + "\n");
    ASSERT_THAT(r.problems, IsEmpty()) << word;
    EXPECT_EQ(r.config.global.smb_direct, mode) << word;
  }
  r = parseSmbConf("smb_direct = auto\nSMB Direct Port = 5445\n");
  ASSERT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_EQ(r.config.global.smb_direct_port, 5445);
  std::string text = renderConfig(r.config);
  EXPECT_THAT(text, HasSubstr("\tsmb direct = auto\n"));
  EXPECT_THAT(text, HasSubstr("\tsmb direct port = 5445\n"));
  ParseResult again = parseSmbConf(text);
  EXPECT_EQ(again.config.global, r.config.global) << text;
  r = parseSmbConf("smb direct port = auto\n");
  EXPECT_EQ(r.config.global.smb_direct_port, 0);

  const std::pair<const char*, const char*> errors[] = {
      {"smb direct = sometimes\n", "invalid value \"sometimes\" for \"smb direct\""},
      {"smb direct port = 65536\n", "invalid port \"65536\" for \"smb direct port\""},
      {"smb direct port = rdma\n", "invalid port \"rdma\""},
  };
  for (const auto& [line, message] : errors) {
    r = parseSmbConf(line);
    ASSERT_EQ(r.problems.size(), 1u) << line;
    EXPECT_THAT(r.problems[0].message, HasSubstr(message));
    // The defaults stay.
    EXPECT_EQ(r.config.global.smb_direct, SmbDirectMode::kNo) << line;
    EXPECT_EQ(r.config.global.smb_direct_port, 0) << line;
  }
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

// Samba's per-interface options (for FSCTL_QUERY_NETWORK_INTERFACE_INFO) leave the listening
// addresses alone; "server multi channel support" defaults to yes.
TEST_F(SmbConfTest, InterfaceOptionsAndMultiChannelSetting) {
  ParseResult r = parse(R"(
[global]
  interfaces = "127.0.0.1;speed=10000000000,capability=RSS" "lo;if_index=1"
  bind interfaces only = yes
  server multi channel support = no
)");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  const GlobalConfig& g = r.config.global;
  EXPECT_FALSE(g.server_multi_channel_support);
  EXPECT_TRUE(GlobalConfig().server_multi_channel_support);
  EXPECT_THAT(g.interfaces,
              ElementsAre("127.0.0.1;speed=10000000000,capability=RSS", "lo;if_index=1"));
  auto addrs = listenAddresses(g);
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  EXPECT_THAT(*addrs, ::testing::Contains("127.0.0.1"));
}

// Samba's "smb2 disable oplock break retry" (session/break_delivery.h): default no.
TEST_F(SmbConfTest, OplockBreakRetrySetting) {
  EXPECT_FALSE(GlobalConfig().smb2_disable_oplock_break_retry);
  ParseResult r = parse("[global]\n  smb2 disable oplock break retry = yes\n");
  EXPECT_THAT(r.problems, IsEmpty()) << describe(r.problems);
  EXPECT_TRUE(r.config.global.smb2_disable_oplock_break_retry);
  r = parse("[global]\n  smb2 disable oplock break retry = maybe\n");
  EXPECT_THAT(r.problems, ::testing::Not(IsEmpty()));
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

TEST(CpuListTest, NumbersRangesAndErrors) {
  std::string err;
  EXPECT_THAT(parseCpuList("0-3,8", &err), ElementsAre(0, 1, 2, 3, 8));
  EXPECT_EQ(err, "");
  EXPECT_THAT(parseCpuList(" 5 2\t7 ", &err), ElementsAre(5, 2, 7));
  for (const char* bad : {"", "3-1", "a", "1,1", "0-2,2", "4096", "-1", "1-"}) {
    EXPECT_THAT(parseCpuList(bad, &err), ElementsAre()) << bad;
    EXPECT_NE(err, "") << bad;
  }
}

TEST_F(SmbConfTest, WorkerCpusParsedRenderedAndRefused) {
  ParseResult r = parse("[global]\nworker cpus = 1,0\n[s]\npath = @DIR@\n");
  ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
  EXPECT_THAT(r.config.global.worker_cpus, ElementsAre(1, 0));
  EXPECT_NE(renderConfig(r.config).find("worker cpus = 1,0"), std::string::npos);
  r = parse("[global]\nworker cpus = 2-1\n[s]\npath = @DIR@\n");
  EXPECT_TRUE(r.hasErrors());
  EXPECT_NE(describe(r.problems).find("worker cpus"), std::string::npos) << describe(r.problems);
}

TEST(RateTest, SuffixesAreBinaryAndJunkIsRefused) {
  EXPECT_EQ(parseRate("0"), 0u);
  EXPECT_EQ(parseRate("1500"), 1500u);
  EXPECT_EQ(parseRate("50M"), 50u << 20);
  EXPECT_EQ(parseRate("50MiB"), 50u << 20);
  EXPECT_EQ(parseRate("2g/s"), 2ull << 30);
  EXPECT_EQ(parseRate("64k"), 64u << 10);
  for (const char* bad : {"", "M", "-1", "1.5M", "50X", "99999999999999999999"}) {
    EXPECT_FALSE(parseRate(bad).has_value()) << bad;
  }
}

TEST_F(SmbConfTest, LimitsPerUserAndShare) {
  ParseResult r = parse(
      "[global]\nuser bandwidth limit = 50M\nuser request rate limit = 2000\n"
      "[s]\npath = @DIR@\nshare bandwidth limit = 1G\nshare request rate limit = 10k\n");
  ASSERT_FALSE(r.hasErrors()) << describe(r.problems);
  EXPECT_EQ(r.config.global.user_bandwidth_limit, 50u << 20);
  EXPECT_EQ(r.config.global.user_request_rate_limit, 2000u);
  const ShareConfig* s = nullptr;
  for (const ShareConfig& c : r.config.shares) {
    if (c.name == "s") s = &c;
  }
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->bandwidth_limit, 1ull << 30);
  EXPECT_EQ(s->request_rate_limit, 10u << 10);
  // Rendered and parsed again: the same values.
  ParseResult again = parseSmbConf(renderConfig(r.config));
  ASSERT_FALSE(again.hasErrors()) << describe(again.problems);
  EXPECT_EQ(again.config.global.user_bandwidth_limit, 50u << 20);
  r = parse("[global]\nuser bandwidth limit = fast\n[s]\npath = @DIR@\n");
  EXPECT_TRUE(r.hasErrors());
  EXPECT_NE(describe(r.problems).find("user bandwidth limit"), std::string::npos);
}

}  // namespace
}  // namespace xsmb::config
