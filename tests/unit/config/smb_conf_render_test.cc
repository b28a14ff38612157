// renderConfig (what xsmbd --check-config prints): its text, and that it parses back to the same
// configuration.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/smb_conf.h"
#include "tests/unit/config/smb_conf_test_util.h"

namespace xsmb::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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

}  // namespace
}  // namespace xsmb::config
