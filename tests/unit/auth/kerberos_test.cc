// KerberosAcceptor against a real MIT KDC: tests/integration/krb5_harness.py --setup starts a
// throw-away realm TEST.XSMB on 127.0.0.1 for this binary; the client side is MIT's GSSAPI
// initiator (gss_init_sec_context) with alice's ccache from kinit.
#include "server/auth/kerberos.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "server/auth/spnego.h"

namespace xsmb::auth {
namespace {

constexpr char kKdcBinary[] = "/usr/sbin/krb5kdc";
constexpr char kHarness[] = XSMB_SOURCE_DIR "/tests/integration/krb5_harness.py";
constexpr char kService[] = "cifs@localhost";
constexpr char kForeignService[] = "cifs@otherhost";  // in the KDC, not in the keytab

// DER OID values as they appear after the 0x06 tag and length in an InitialContextToken.
constexpr uint8_t kKrb5Oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
constexpr uint8_t kKrb5MsOid[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};

std::string runText(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) out += "\n(exit status " + std::to_string(rc) + ")";
  return rc == 0 ? "" : out;
}

// The realm for the whole binary: set up once, torn down (KDC stopped by pid) at the end.
class Realm {
 public:
  static Realm& get() {
    if (!instance()) instance().reset(new Realm());
    return *instance();
  }
  // Stops the KDC if a test started one (a filtered run may never have).
  static void teardownIfStarted() {
    if (instance()) instance()->teardown();
  }
  bool ready() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& value(const std::string& key) { return env_[key]; }
  void teardown() {
    if (!dir_.empty()) runText("python3 " + std::string(kHarness) + " --teardown " + dir_);
    dir_.clear();
  }

 private:
  Realm() {
    if (access(kKdcBinary, X_OK) != 0) {
      error_ = "MIT KDC not installed (tools/install-deps.sh installs krb5-kdc)";
      return;
    }
    char tmpl[] = "/tmp/xsmb-krb5-unit-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    std::string out =
        runText("python3 " + std::string(kHarness) + " --setup " + dir_ + " --lifetime 600");
    if (!out.empty()) {
      error_ = "krb5_harness.py --setup failed: " + out;
      return;
    }
    std::ifstream in(dir_ + "/env");
    std::string line;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    // Both GSS sides of this process read the realm's krb5.conf; nothing else is global.
    setenv("KRB5_CONFIG", env_["KRB5_CONFIG"].c_str(), 1);
    setenv("KRB5RCACHEDIR", dir_.c_str(), 1);
    unsetenv("KRB5CCNAME");
    unsetenv("KRB5_KTNAME");
  }
  static std::unique_ptr<Realm>& instance() {
    static std::unique_ptr<Realm> realm;
    return realm;
  }
  std::string dir_;
  std::string error_;
  std::map<std::string, std::string> env_;
};

class RealmEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { Realm::teardownIfStarted(); }
};
const auto* const kRealmEnv = ::testing::AddGlobalTestEnvironment(new RealmEnvironment);

std::string gssError(OM_uint32 major, OM_uint32 minor) {
  std::string text;
  for (auto [code, type] : {std::pair{major, GSS_C_GSS_CODE}, std::pair{minor, GSS_C_MECH_CODE}}) {
    OM_uint32 ctx = 0, m;
    do {
      gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
      if (GSS_ERROR(gss_display_status(&m, code, type, GSS_C_NO_OID, &ctx, &msg))) break;
      text.append(static_cast<const char*>(msg.value), msg.length).append("; ");
      gss_release_buffer(&m, &msg);
    } while (ctx != 0);
  }
  return text;
}

Bytes sessionKey(gss_ctx_id_t ctx) {
  OM_uint32 minor;
  gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
  OM_uint32 major = gss_inquire_sec_context_by_oid(&minor, ctx, GSS_C_INQ_SSPI_SESSION_KEY, &set);
  Bytes key;
  if (!GSS_ERROR(major) && set != GSS_C_NO_BUFFER_SET && set->count > 0) {
    const auto* p = static_cast<const uint8_t*>(set->elements[0].value);
    key.assign(p, p + set->elements[0].length);
  }
  gss_release_buffer_set(&minor, &set);
  return key;
}

// The client: alice's credentials from her ccache, one context towards `target`.
class Initiator {
 public:
  Initiator(const std::string& ccache, const char* target, gss_OID mech, OM_uint32 flags)
      : mech_(mech), flags_(flags) {
    OM_uint32 minor;
    std::string ccache_name = "FILE:" + ccache;
    gss_key_value_element_desc element = {"ccache", ccache_name.c_str()};
    gss_key_value_set_desc store = {1, &element};
    major_ = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                                   GSS_C_INITIATE, &store, &cred_, nullptr, nullptr);
    if (GSS_ERROR(major_)) {
      error_ = "acquire_cred: " + gssError(major_, minor);
      return;
    }
    gss_buffer_desc name = {strlen(target), const_cast<char*>(target)};
    major_ = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &target_);
    if (GSS_ERROR(major_)) error_ = "import_name: " + gssError(major_, minor);
  }
  ~Initiator() {
    OM_uint32 minor;
    if (ctx_ != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &ctx_, GSS_C_NO_BUFFER);
    if (target_ != GSS_C_NO_NAME) gss_release_name(&minor, &target_);
    if (cred_ != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &cred_);
  }

  // One gss_init_sec_context call with `input` (empty for the first); its output token.
  Bytes step(ByteSpan input = {}) {
    if (!error_.empty()) return {};
    OM_uint32 minor;
    gss_buffer_desc in = {input.size(), const_cast<uint8_t*>(input.data())};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    major_ = gss_init_sec_context(&minor, cred_, &ctx_, target_, mech_, flags_, 0,
                                  GSS_C_NO_CHANNEL_BINDINGS, input.empty() ? GSS_C_NO_BUFFER : &in,
                                  nullptr, &out, nullptr, nullptr);
    if (GSS_ERROR(major_)) error_ = "init_sec_context: " + gssError(major_, minor);
    const auto* p = static_cast<const uint8_t*>(out.value);
    Bytes token = p ? Bytes(p, p + out.length) : Bytes();
    gss_release_buffer(&minor, &out);
    return token;
  }
  bool complete() const { return major_ == GSS_S_COMPLETE; }
  bool continueNeeded() const { return major_ == GSS_S_CONTINUE_NEEDED; }
  const std::string& error() const { return error_; }
  Bytes sessionKey() const { return auth::sessionKey(ctx_); }

 private:
  gss_OID mech_;
  OM_uint32 flags_;
  gss_cred_id_t cred_ = GSS_C_NO_CREDENTIAL;
  gss_name_t target_ = GSS_C_NO_NAME;
  gss_ctx_id_t ctx_ = GSS_C_NO_CONTEXT;
  OM_uint32 major_ = GSS_S_FAILURE;
  std::string error_;
};

constexpr OM_uint32 kSmbFlags = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG |
                                GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG;

Bytes first16(Bytes key) {
  key.resize(16, 0);
  return key;
}

class KerberosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Realm& realm = Realm::get();
    if (!realm.ready()) {
      if (access(kKdcBinary, X_OK) != 0) GTEST_SKIP() << realm.error();
      FAIL() << realm.error();
    }
    keytab_ = realm.value("KEYTAB");
    ccache_ = realm.value("ALICE_CCACHE");
  }
  std::string keytab_;
  std::string ccache_;
};

TEST_F(KerberosTest, AcceptsAliceWithMutualAuthAndMatchingSessionKeys) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  ASSERT_GT(token.size(), 100u);
  ASSERT_EQ(token[0], 0x60);

  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(token);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->principal, "alice@TEST.XSMB");
  EXPECT_EQ(result->user, "alice");
  EXPECT_EQ(result->realm, "TEST.XSMB");
  ASSERT_EQ(result->session_key.size(), 16u);
  EXPECT_NE(result->session_key, Bytes(16, 0));

  // The AP-REP completes the client's context (mutual authentication succeeded) ...
  ASSERT_FALSE(result->response_token.empty());
  EXPECT_EQ(result->response_token[0], 0x60);
  Bytes last = client.step(result->response_token);
  ASSERT_TRUE(client.complete()) << client.error();
  EXPECT_TRUE(last.empty());
  // ... and then both sides hold the same key (the acceptor's subkey, 32 bytes of AES-256).
  Bytes client_key = client.sessionKey();
  EXPECT_EQ(client_key.size(), 32u);
  EXPECT_EQ(first16(client_key), result->session_key);
}

TEST_F(KerberosTest, EachExchangeGetsAFreshSessionKey) {
  Bytes keys[2];
  for (Bytes& key : keys) {
    Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
    Bytes token = client.step();
    ASSERT_TRUE(client.continueNeeded()) << client.error();
    KerberosAcceptor acceptor(keytab_);
    auto result = acceptor.accept(token);
    ASSERT_TRUE(result.ok()) << result.status();
    key = result->session_key;
  }
  EXPECT_NE(keys[0], keys[1]);
}

TEST_F(KerberosTest, WithoutMutualAuthTheResponseTokenIsEmptyAndKeysStillMatch) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags & ~GSS_C_MUTUAL_FLAG);
  Bytes token = client.step();
  ASSERT_TRUE(client.complete()) << client.error();
  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(token);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->user, "alice");
  EXPECT_TRUE(result->response_token.empty());
  EXPECT_EQ(first16(client.sessionKey()), result->session_key);
}

TEST_F(KerberosTest, AcceptsTheMicrosoftKrb5OidInsideTheToken) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  auto it = std::search(token.begin(), token.end(), std::begin(kKrb5Oid), std::end(kKrb5Oid));
  ASSERT_NE(it, token.end());
  std::copy(std::begin(kKrb5MsOid), std::end(kKrb5MsOid), it);
  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(token);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->principal, "alice@TEST.XSMB");
}

// The path SESSION_SETUP takes: MIT's SPNEGO initiator puts the krb5 token in negTokenInit's
// mechToken; spnego.h extracts it; the AP-REP goes back in an accept-completed negTokenResp.
TEST_F(KerberosTest, WorksInsideSpnego) {
  gss_OID_desc spnego_oid = {6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};
  Initiator client(ccache_, kService, &spnego_oid, kSmbFlags);
  Bytes init = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  auto request = parseSpnegoRequest(init);
  ASSERT_TRUE(request.ok()) << request.status();
  ASSERT_FALSE(request->mech_types.empty());
  EXPECT_EQ(request->mech_types[0], SpnegoMech::kKerberos);

  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(request->mech_token);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->user, "alice");
  client.step(
      spnegoResponse(NegState::kAcceptCompleted, SpnegoMech::kKerberos, result->response_token));
  ASSERT_TRUE(client.complete()) << client.error();
  EXPECT_EQ(first16(client.sessionKey()), result->session_key);
}

TEST_F(KerberosTest, RejectsATicketForAServiceNotInTheKeytab) {
  Initiator client(ccache_, kForeignService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(token);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
  EXPECT_NE(result.status().message().find("major 0x"), std::string::npos) << result.status();
}

TEST_F(KerberosTest, RejectsATicketEncryptedWithAKeyTheKeytabNoLongerHas) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  KerberosAcceptor acceptor(Realm::get().value("STALE_KEYTAB"));  // kvno 2; the ticket has 3
  auto result = acceptor.accept(token);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
}

TEST_F(KerberosTest, RejectsAReplayedToken) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  KerberosAcceptor first(keytab_);
  ASSERT_TRUE(first.accept(token).ok());
  KerberosAcceptor second(keytab_);
  auto replay = second.accept(token);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kUnauthenticated) << replay.status();
}

TEST_F(KerberosTest, RejectsATamperedAuthenticator) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  // The authenticator's ciphertext ends the AP-REQ: flipping its last byte breaks the HMAC.
  token.back() ^= 0x01;
  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(token);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
}

TEST_F(KerberosTest, TruncatedTokensAreInvalidAtEveryLength) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  for (size_t len = 0; len < token.size(); ++len) {
    KerberosAcceptor acceptor(keytab_);
    auto result = acceptor.accept(ByteSpan(token).first(len));
    ASSERT_FALSE(result.ok()) << "length " << len;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << "length " << len << ": " << result.status();
  }
}

TEST_F(KerberosTest, RejectsAnAcceptorUsedTwice) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  KerberosAcceptor acceptor(keytab_);
  ASSERT_TRUE(acceptor.accept(token).ok());
  EXPECT_EQ(acceptor.accept(token).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(KerberosTest, UnusableKeytabsAreAFailedPrecondition) {
  Initiator client(ccache_, kService, gss_mech_krb5, kSmbFlags);
  Bytes token = client.step();
  ASSERT_TRUE(client.continueNeeded()) << client.error();
  std::string empty = Realm::get().value("KEYTAB") + ".empty";
  std::ofstream(empty).close();
  for (const std::string& keytab :
       {std::string("/nonexistent/xsmb.keytab"), empty, std::string()}) {
    KerberosAcceptor acceptor(keytab);
    auto result = acceptor.accept(token);
    ASSERT_FALSE(result.ok()) << keytab;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition)
        << keytab << ": " << result.status();
  }
}

struct BadToken {
  const char* description;
  Bytes token;
};

TEST_F(KerberosTest, MalformedTokensAreInvalidArgument) {
  const uint8_t krb5_prefix[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
  auto frame = [&](Bytes body) {  // [APPLICATION 0] { krb5 OID, body }
    Bytes t = {0x60, static_cast<uint8_t>(sizeof(krb5_prefix) + body.size())};
    t.insert(t.end(), std::begin(krb5_prefix), std::end(krb5_prefix));
    t.insert(t.end(), body.begin(), body.end());
    return t;
  };
  const BadToken cases[] = {
      {"empty", {}},
      {"garbage", {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02}},
      {"raw NTLMSSP", {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 1, 0, 0, 0}},
      {"SPNEGO OID", {0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x00}},
      {"length beyond the end", {0x60, 0x7f, 0x06, 0x09}},
      {"trailing bytes",
       [&] {
         Bytes t = frame({0x01, 0x00, 0x6e, 0x00});
         t.push_back(0);
         return t;
       }()},
      {"non-minimal long length", {0x60, 0x81, 0x05, 0x06, 0x03, 0x2a, 0x86, 0x48}},
      {"AP-REP instead of AP-REQ", frame({0x02, 0x00, 0x6f, 0x00})},
      {"empty AP-REQ", frame({0x01, 0x00})},
      {"AP-REQ of zeros",
       [&] {
         Bytes body(64, 0);
         body[0] = 0x01;  // TOK_ID 01 00, then zeros where the AP-REQ should be
         return frame(body);
       }()},
      {"AP-REQ envelope too short", frame({0x01, 0x00, 0x6e, 0x04, 0x30, 0x01, 0xff})},
      {"AP-REQ envelope too long", frame({0x01, 0x00, 0x6e, 0x02, 0x30, 0x01, 0xff})},
  };
  for (const BadToken& c : cases) {
    KerberosAcceptor acceptor(keytab_);
    auto result = acceptor.accept(c.token);
    ASSERT_FALSE(result.ok()) << c.description;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << c.description << ": " << result.status();
  }
}

// Garbage inside a well-framed AP-REQ reaches MIT, which reports it as a generic failure.
TEST_F(KerberosTest, GarbageInsideTheApReqIsRejected) {
  const Bytes token = {0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
                       0x01, 0x02, 0x02, 0x01, 0x00, 0x6e, 0x03, 0x30, 0x01, 0xff};
  KerberosAcceptor acceptor(keytab_);
  auto result = acceptor.accept(token);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << result.status();
}

TEST(KerberosAvailable, IsTrueWhenLinkedWithGssapi) { EXPECT_TRUE(kerberosAvailable()); }

}  // namespace
}  // namespace xsmb::auth
