// SMB over QUIC's parameters (server/config/smb_conf_quic.h): "server smb transports" in
// Samba's list forms, the TLS files quic needs, "quic port" and "quic idle timeout" at and past
// their range edges, the AF_XDP mode's "quic xdp interface" and "quic xdp mode", and the
// rendered configuration parsing back to the same values.
#include <string>

#include "gtest/gtest.h"
#include "server/config/smb_conf.h"
#include "tests/unit/config/smb_conf_test_util.h"

namespace xsmb::config {
namespace {

bool hasError(const ParseResult& r) {
  for (const Problem& p : r.problems) {
    if (p.severity == Problem::Severity::kError) return true;
  }
  return false;
}

TEST(QuicParams, DefaultIsTcpOnly) {
  ParseResult r = parseSmbConf("[global]\n");
  EXPECT_TRUE(r.config.global.quic.tcp);
  EXPECT_FALSE(r.config.global.quic.quic);
  EXPECT_EQ(r.config.global.quic.quic_port, 443u);
  EXPECT_EQ(r.config.global.quic.quic_idle_timeout_secs, 120u);
  EXPECT_EQ(r.config.global.quic.quic_xdp_interface, "");
  EXPECT_EQ(r.config.global.quic.quic_xdp_mode, QuicConfig::XdpMode::kAuto);
}

TEST(QuicParams, XdpInterfaceAndMode) {
  ParseResult r = parseSmbConf("[global]\nquic xdp interface = eth1\nquic xdp mode = Copy\n");
  EXPECT_FALSE(hasError(r)) << describe(r.problems);
  EXPECT_EQ(r.config.global.quic.quic_xdp_interface, "eth1");
  EXPECT_EQ(r.config.global.quic.quic_xdp_mode, QuicConfig::XdpMode::kCopy);
  r = parseSmbConf("[global]\nquic xdp mode = zerocopy\n");
  EXPECT_EQ(r.config.global.quic.quic_xdp_mode, QuicConfig::XdpMode::kZeroCopy);
  for (const char* bad : {"quic xdp mode = fast", "quic xdp interface = a-name-of-16-chr",
                          "quic xdp interface = ../eth0"}) {
    ParseResult b = parseSmbConf(std::string("[global]\n") + bad + "\n");
    EXPECT_TRUE(hasError(b)) << bad;
    EXPECT_NE(describe(b.problems).find("quic xdp"), std::string::npos) << describe(b.problems);
  }
}

TEST(QuicParams, TransportLists) {
  struct Case {
    const char* value;
    bool ok, tcp, quic;
  } cases[] = {
      {"tcp, quic", true, true, true},   {"quic", true, false, true},
      {"+quic", true, true, true},       {"tcp nbt", true, true, false},
      {"QUIC,TCP", true, true, true},    {"+quic -tcp", true, false, true},
      {"tcp, sctp", false, true, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    ParseResult r = parseSmbConf(std::string("[global]\nserver smb transports = ") + c.value +
                                 "\ntls certfile = /c.pem\ntls keyfile = /k.pem\n");
    EXPECT_EQ(hasError(r), !c.ok) << describe(r.problems);
    EXPECT_EQ(r.config.global.quic.tcp, c.tcp);
    EXPECT_EQ(r.config.global.quic.quic, c.quic);
  }
}

TEST(QuicParams, QuicWithoutCertificateOrKeyIsAnError) {
  for (const char* tls : {"", "tls certfile = /c.pem\n", "tls keyfile = /k.pem\n"}) {
    ParseResult r =
        parseSmbConf(std::string("[global]\nserver smb transports = tcp, quic\n") + tls);
    ASSERT_TRUE(hasError(r)) << tls;
    EXPECT_NE(describe(r.problems).find("tls "), std::string::npos) << describe(r.problems);
  }
  ParseResult ok = parseSmbConf(
      "[global]\nserver smb transports = tcp, quic\ntls certfile = /c.pem\n"
      "tls keyfile = /k.pem\n");
  EXPECT_FALSE(hasError(ok)) << describe(ok.problems);
  EXPECT_EQ(ok.config.global.quic.tls_certfile, "/c.pem");
  EXPECT_EQ(ok.config.global.quic.tls_keyfile, "/k.pem");
}

TEST(QuicParams, RangesAreEnforced) {
  struct Case {
    const char* line;
    bool ok;
  } cases[] = {
      {"quic port = 1", true},
      {"quic port = 65535", true},
      {"quic port = 0", false},
      {"quic port = 65536", false},
      {"quic port = x", false},
      {"quic idle timeout = 5", true},
      {"quic idle timeout = 3600", true},
      {"quic idle timeout = 4", false},
      {"quic idle timeout = 3601", false},
  };
  for (const Case& c : cases) {
    ParseResult r = parseSmbConf(std::string("[global]\n") + c.line + "\n");
    EXPECT_EQ(hasError(r), !c.ok) << c.line << "\n" << describe(r.problems);
  }
}

TEST(QuicParams, RenderedConfigParsesBack) {
  ParseResult r = parseSmbConf(
      "[global]\nserver smb transports = tcp, quic\ntls certfile = /c.pem\n"
      "tls keyfile = /k.pem\nquic port = 8443\nquic idle timeout = 30\n"
      "quic xdp interface = xq0\nquic xdp mode = zerocopy\n");
  ASSERT_FALSE(hasError(r)) << describe(r.problems);
  ParseResult again = parseSmbConf(renderConfig(r.config));
  EXPECT_EQ(again.config.global.quic, r.config.global.quic) << describe(again.problems);
}

}  // namespace
}  // namespace xsmb::config
