#include "tools/xsmb-bench/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "server/auth/ntlmssp.h"
#include "server/auth/spnego.h"
#include "common/base/unicode.h"
#include "common/crypto/signing.h"
#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "tests/unit/bench/fake_server.h"
#include "tests/unit/crypto/hex.h"
#include "tools/xsmb-bench/histogram.h"
#include "tools/xsmb-bench/ntlm_client.h"

namespace xsmb::bench {
namespace {

using xsmb::testing::fromHex;
using xsmb::testing::toHex;

// MS-NLMP 4.2.4: NTLMv2 with User/Domain/Password, server challenge 0123456789abcdef, client
// challenge aa*8, random session key 55*16, Time 0, TargetInfo {Domain, Server}.
Bytes msNlmpChallenge() {
  Bytes target_info =
      fromHex("02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000");
  Bytes target_name = utf8ToUtf16le("Domain");
  ByteWriter w;
  w.bytes("NTLMSSP\0", 8);
  w.u32(2);
  w.u16(static_cast<uint16_t>(target_name.size()));
  w.u16(static_cast<uint16_t>(target_name.size()));
  w.u32(56);
  w.u32(0xe28a8233);
  w.bytes(fromHex("0123456789abcdef"));
  w.zeros(8);
  w.u16(static_cast<uint16_t>(target_info.size()));
  w.u16(static_cast<uint16_t>(target_info.size()));
  w.u32(static_cast<uint32_t>(56 + target_name.size()));
  w.bytes(fromHex("0601b01d0000000f"));
  w.bytes(target_name);
  w.bytes(target_info);
  return w.take();
}

ByteSpan field(const Bytes& msg, size_t off) {
  ByteReader r(msg);
  r.seek(off);
  uint16_t len = r.u16();
  r.u16();
  uint32_t at = r.u32();
  return r.slice(at, len);
}

TEST(NtlmClient, MsNlmp424Vectors) {
  crypto::Key16 exported;
  std::fill(exported.begin(), exported.end(), 0x55);
  std::array<uint8_t, 8> cc;
  cc.fill(0xaa);
  NtlmClient client({"User", "Password", "Domain", "COMPUTER"}, cc, exported, 0);
  Bytes neg = client.negotiateMessage();
  ASSERT_EQ(neg.size(), 40u);
  EXPECT_EQ(toHex(ByteSpan(neg).first(12)), "4e544c4d5353500001000000");
  auto auth = client.authenticateMessage(msNlmpChallenge());
  ASSERT_TRUE(auth.ok()) << auth.status();
  ByteSpan nt = field(*auth, 20);
  ASSERT_GE(nt.size(), 16u + 28);
  EXPECT_EQ(toHex(nt.first(16)), "68cd0ab851e51c96aabc927bebef6a1c");  // 4.2.4.2.2 NTProofStr
  // temp = 0101 0000 00000000, Time 0, client challenge, 0, AV pairs, 0.
  EXPECT_EQ(toHex(nt.subspan(16, 28)),
            "0101000000000000"
            "0000000000000000"
            "aaaaaaaaaaaaaaaa"
            "00000000");
  EXPECT_EQ(toHex(field(*auth, 12)),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");           // 4.2.4.2.1 LMv2
  EXPECT_EQ(toHex(field(*auth, 52)), "c5dad2544fc9799094ce1ce90bc9d03e");  // 4.2.4.2.3
  EXPECT_EQ(utf16leToUtf8(field(*auth, 36)).value_or(""), "User");
  EXPECT_EQ(utf16leToUtf8(field(*auth, 28)).value_or(""), "Domain");
  EXPECT_EQ(client.sessionKey(), exported);
}

TEST(NtlmClient, MalformedChallengeIsAnError) {
  NtlmClient client({"u", "p", "", "W"});
  client.negotiateMessage();
  Bytes c = msNlmpChallenge();
  for (size_t n = 0; n < 48; ++n) {
    EXPECT_FALSE(client.authenticateMessage(ByteSpan(c).first(n)).ok()) << n;
  }
  c[44] = 0xff;  // TargetInfo offset far outside
  EXPECT_FALSE(client.authenticateMessage(c).ok());
}

struct ServerRun {
  auth::NtlmOutcome outcome = auth::NtlmOutcome::kNoSuchUser;
  crypto::Key16 key{};
};

ServerRun runAgainstServer(const std::string& password) {
  auth::NtlmServer server({"XSMBD", "WORKGROUP", "xsmbd.test", "test"});
  NtlmClient client({"bench", password, "WORKGROUP", "W"});
  auto challenge = server.negotiate(client.negotiateMessage());
  EXPECT_TRUE(challenge.ok());
  auto auth = client.authenticateMessage(*challenge);
  EXPECT_TRUE(auth.ok());
  auto lookup = [](std::string_view user, std::string_view) -> std::optional<crypto::Key16> {
    if (user != "bench") return std::nullopt;
    return crypto::ntHash("s3cret");
  };
  auto result = server.authenticate(*auth, lookup);
  EXPECT_TRUE(result.ok()) << result.status();
  ServerRun run;
  if (result.ok()) {
    run.outcome = result->outcome;
    run.key = result->session_key;
  }
  EXPECT_EQ(client.sessionKey() == run.key, run.outcome == auth::NtlmOutcome::kAuthenticated);
  return run;
}

TEST(NtlmClient, AcceptedByTheServerSideWithTheSameSessionKey) {
  EXPECT_EQ(runAgainstServer("s3cret").outcome, auth::NtlmOutcome::kAuthenticated);
  EXPECT_EQ(runAgainstServer("wrong").outcome, auth::NtlmOutcome::kWrongPassword);
}

TEST(Spnego, InitTokenParsesAsNegTokenInitWithNtlm) {
  Bytes ntlm = NtlmClient({"u", "p", "", "W"}).negotiateMessage();
  auto req = auth::parseSpnegoRequest(spnegoInitToken(ntlm));
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_FALSE(req->raw_ntlmssp);
  ASSERT_EQ(req->mech_types.size(), 1u);
  EXPECT_EQ(req->mech_types[0], auth::SpnegoMech::kNtlmssp);
  EXPECT_EQ(req->mech_token, ntlm);
  auto resp = auth::parseSpnegoRequest(spnegoResponseToken(ntlm));
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->mech_token, ntlm);
}

TEST(Spnego, NtlmFromServerTokens) {
  Bytes challenge = msNlmpChallenge();
  Bytes big(300, 0x42);  // long enough for a two-byte DER length
  std::copy_n("NTLMSSP\0", 8, big.begin());
  for (const Bytes& m : {challenge, big}) {
    auto t = auth::spnegoResponse(auth::NegState::kAcceptIncomplete, auth::SpnegoMech::kNtlmssp, m);
    EXPECT_EQ(ntlmFromSpnego(t).value_or(Bytes{}), m);
    EXPECT_EQ(ntlmFromSpnego(m).value_or(Bytes{}), m);  // raw NTLMSSP
  }
  auto done = auth::spnegoResponse(auth::NegState::kAcceptCompleted, std::nullopt, {});
  EXPECT_FALSE(ntlmFromSpnego(done).has_value());
  Bytes t = auth::spnegoResponse(auth::NegState::kAcceptIncomplete, auth::SpnegoMech::kNtlmssp,
                                 challenge);
  for (size_t n = 0; n < t.size(); ++n) {
    auto r = ntlmFromSpnego(ByteSpan(t).first(n));  // never reads past the cut
    if (r) EXPECT_LE(r->size(), n);
  }
}

TEST(Codec, ReplyDecodersCheckBounds) {
  Bytes create(64 + 88, 0);
  create[64] = 89;
  storeU64(create.data() + 64 + 48, 12345);  // EndofFile
  storeU64(create.data() + 64 + 64, 7);
  storeU64(create.data() + 64 + 72, 9);
  FileId id;
  uint64_t eof = 0;
  ASSERT_TRUE(decodeCreateReply(create, &id, &eof));
  EXPECT_EQ(id.persistent, 7u);
  EXPECT_EQ(id.volatile_id, 9u);
  EXPECT_EQ(eof, 12345u);
  EXPECT_FALSE(decodeCreateReply(ByteSpan(create).first(64 + 70), &id, &eof));

  Bytes read(64 + 16 + 5, 0);
  read[64] = 17;
  read[66] = 0x50;
  storeU32(read.data() + 68, 5);
  ByteSpan data;
  ASSERT_TRUE(decodeReadReply(read, &data));
  EXPECT_EQ(data.size(), 5u);
  storeU32(read.data() + 68, 6);  // one byte past the end
  EXPECT_FALSE(decodeReadReply(read, &data));

  // Two FILE_ID_BOTH_DIR entries chained by NextEntryOffset.
  Bytes dir(200, 0);
  storeU32(dir.data(), 104);
  EXPECT_EQ(countDirectoryEntries(dir), 2u);
  EXPECT_EQ(countDirectoryEntries({}), 0u);
}

TEST(Codec, RequestLayouts) {
  FileId id{1, 2};
  Bytes r = readBody(id, 4096, 65536);
  ASSERT_EQ(r.size(), 49u);
  EXPECT_EQ(loadU32(r.data() + 4), 65536u);
  EXPECT_EQ(loadU64(r.data() + 8), 4096u);
  Bytes w = writeBody(id, 0, 10);
  ASSERT_EQ(w.size(), 48u);
  EXPECT_EQ(loadU16(w.data() + 2), 0x70);
  smb2::WriteRequest wr;
  Bytes whole(64, 0);
  whole.insert(whole.end(), w.begin(), w.end());
  whole.resize(whole.size() + 10, 0x33);
  EXPECT_EQ(smb2::decodeWriteRequest(whole, &wr), STATUS_SUCCESS);  // the server's decoder
  EXPECT_EQ(wr.data.size(), 10u);
  Bytes c = createBody("a\\b.txt", smb2::GENERIC_READ, smb2::FILE_OPEN_IF, 0, 7);
  Bytes cw(64, 0);
  cw.insert(cw.end(), c.begin(), c.end());
  smb2::CreateRequest cr;
  ASSERT_EQ(smb2::decodeCreateRequest(cw, &cr), STATUS_SUCCESS);
  EXPECT_EQ(cr.name, "a\\b.txt");
  EXPECT_EQ(cr.create_disposition, smb2::FILE_OPEN_IF);
  EXPECT_TRUE(cr.contexts.empty());
  // --mxac: one MxAc context without data after the name, whatever the name's length (the
  // share root's empty name, and one whose end is not 8-aligned).
  for (const std::string name : {"", "a\\b.txt", "abc"}) {
    Bytes m = createBody(name, smb2::FILE_READ_ATTRIBUTES, smb2::FILE_OPEN, 0, 7, true);
    Bytes mw(64, 0);
    mw.insert(mw.end(), m.begin(), m.end());
    smb2::CreateRequest mr;
    ASSERT_EQ(smb2::decodeCreateRequest(mw, &mr), STATUS_SUCCESS) << name;
    EXPECT_EQ(mr.name, name);
    ASSERT_EQ(mr.contexts.size(), 1u) << name;
    EXPECT_EQ(mr.contexts[0].name, "MxAc");
    EXPECT_TRUE(mr.contexts[0].data.empty());
    EXPECT_EQ(loadU32(m.data() + 48) % 8, 0u) << name;  // CreateContextsOffset 8-aligned
  }
  Bytes q = queryDirectoryBody(id, 37, 1, "*", 65536);
  Bytes qw(64, 0);
  qw.insert(qw.end(), q.begin(), q.end());
  smb2::QueryDirectoryRequest qr;
  ASSERT_EQ(smb2::decodeQueryDirectoryRequest(qw, &qr), STATUS_SUCCESS);
  EXPECT_EQ(qr.pattern, "*");
  EXPECT_EQ(qr.output_buffer_length, 65536u);
  Bytes n = negotiateBody(0x0311, false, smb2::Guid{}, Bytes(32, 1));
  Bytes nw(64, 0);
  nw.insert(nw.end(), n.begin(), n.end());
  smb2::NegotiateRequest nr;
  ASSERT_EQ(smb2::decodeNegotiateRequest(nw, &nr), STATUS_SUCCESS);
  EXPECT_EQ(nr.dialects, (std::vector<uint16_t>{0x202, 0x210, 0x300, 0x302, 0x311}));
  ASSERT_EQ(nr.contexts.size(), 1u);
  EXPECT_EQ(nr.contexts[0].type, smb2::SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
}

// --transport quic: SMB2_TRANSPORT_CAPABILITIES (MS-SMB2 2.2.3.1.5) follows the preauth context,
// 8-byte aligned, with SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY; below 3.1.1 no context at all.
TEST(ClientBodies, NegotiateOffersTransportCapabilities) {
  Bytes n = negotiateBody(0x0311, false, smb2::Guid{}, Bytes(32, 1), true);
  Bytes nw(64, 0);
  nw.insert(nw.end(), n.begin(), n.end());
  smb2::NegotiateRequest nr;
  ASSERT_EQ(smb2::decodeNegotiateRequest(nw, &nr), STATUS_SUCCESS);
  ASSERT_EQ(nr.contexts.size(), 2u);
  EXPECT_EQ(nr.contexts[0].type, smb2::SMB2_PREAUTH_INTEGRITY_CAPABILITIES);
  EXPECT_EQ(nr.contexts[1].type, smb2::SMB2_TRANSPORT_CAPABILITIES);
  EXPECT_EQ(Bytes(nr.contexts[1].data.begin(), nr.contexts[1].data.end()),
            (Bytes{smb2::SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY, 0, 0, 0}));
  EXPECT_EQ((nr.contexts[1].data.data() - nw.data()) % 8, 0);
  Bytes old = negotiateBody(0x0302, false, smb2::Guid{}, Bytes(32, 1), true);
  Bytes ow(64, 0);
  ow.insert(ow.end(), old.begin(), old.end());
  ASSERT_EQ(smb2::decodeNegotiateRequest(ow, &nr), STATUS_SUCCESS);
  EXPECT_TRUE(nr.contexts.empty());
}

// A scripted logon server on 127.0.0.1 (SMB 2.1, NTLMv2 checked by the real NtlmServer,
// signing with the session key): connection 1 drops after the TREE_CONNECT when an ECHO
// arrives; connection 2 answers the ECHO.
class FakeLogonServer {
 public:
  FakeLogonServer() {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(listen_, 4);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeLogonServer() {
    ::shutdown(listen_, SHUT_RDWR);
    thread_.join();
    ::close(listen_);
  }
  uint16_t port() const { return port_; }
  std::atomic<int> logons{0}, bad_signatures{0}, signed_requests{0}, echoes_answered{0};
  std::string tree_path;

 private:
  void run() {
    for (int conn = 0; conn < 2; ++conn) {
      int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) return;
      serve(fd, conn == 0);
      ::close(fd);
    }
  }

  void serve(int fd, bool drop_on_echo) {
    using namespace testing;
    auth::NtlmServer ntlm({"XSMBD", "WORKGROUP", "xsmbd.test", "test"});
    crypto::Key16 key{};
    auto lookup = [](std::string_view user, std::string_view) -> std::optional<crypto::Key16> {
      if (user != "bench") return std::nullopt;
      return crypto::ntHash("s3cret");
    };
    while (auto req = readRequest(fd)) {
      const smb2::Header& h = req->header;
      if (h.isSigned()) {
        ++signed_requests;
        if (!crypto::verifySignature(crypto::SigningAlgorithm::kHmacSha256, key, req->message)) {
          ++bad_signatures;
        }
      }
      ByteWriter body;
      switch (h.command) {
        case smb2::SMB2_NEGOTIATE: {
          smb2::NegotiateResponse r;
          r.security_mode = smb2::SMB2_NEGOTIATE_SIGNING_ENABLED;
          r.dialect = smb2::SMB2_DIALECT_210;
          r.capabilities = smb2::SMB2_GLOBAL_CAP_LARGE_MTU;
          r.max_transact_size = r.max_read_size = r.max_write_size = 1 << 20;
          smb2::encodeNegotiateResponse(r, body);
          sendReply(fd, h, 0, 1, body.buf());
          break;
        }
        case smb2::SMB2_SESSION_SETUP: {
          smb2::SessionSetupRequest ss;
          smb2::decodeSessionSetupRequest(req->message, &ss);
          auto spnego = auth::parseSpnegoRequest(ss.security_buffer);
          if (!spnego.ok()) return;
          smb2::Header rh = h;
          rh.session_id = 0x99;
          if (h.session_id == 0) {
            auto challenge = ntlm.negotiate(spnego->mech_token);
            smb2::encodeSessionSetupResponse(
                0,
                auth::spnegoResponse(auth::NegState::kAcceptIncomplete, auth::SpnegoMech::kNtlmssp,
                                     *challenge),
                body);
            sendReply(fd, rh, static_cast<uint32_t>(STATUS_MORE_PROCESSING_REQUIRED), 1,
                      body.buf());
          } else {
            auto result = ntlm.authenticate(spnego->mech_token, lookup);
            if (!result.ok() || result->outcome != auth::NtlmOutcome::kAuthenticated) {
              sendReply(fd, rh, static_cast<uint32_t>(STATUS_LOGON_FAILURE), 1, Bytes(9, 0));
              break;
            }
            ++logons;
            key = result->session_key;
            smb2::encodeSessionSetupResponse(
                0, auth::spnegoResponse(auth::NegState::kAcceptCompleted, std::nullopt, {}), body);
            Bytes m = replyMessage(rh, 0, 8, body.buf(), smb2::SMB2_FLAGS_SIGNED);
            crypto::signInPlace(crypto::SigningAlgorithm::kHmacSha256, key, m);
            sendAll(fd, framed(m));
          }
          break;
        }
        case smb2::SMB2_TREE_CONNECT: {
          smb2::TreeConnectRequest tc;
          smb2::decodeTreeConnectRequest(req->message, &tc);
          tree_path = tc.path;
          smb2::encodeTreeConnectResponse(1, 0, 0, 0x1f01ff, body);
          smb2::Header rh = h;
          rh.tree_id = 7;
          sendReply(fd, rh, 0, 32, body.buf());
          break;
        }
        case smb2::SMB2_ECHO:
          if (drop_on_echo) return;
          ++echoes_answered;
          sendReply(fd, h, 0, 1);
          break;
        default:
          sendReply(fd, h, static_cast<uint32_t>(STATUS_NOT_SUPPORTED), 1, Bytes(9, 0));
      }
    }
  }

  int listen_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST(Client, LogsOnSignsAndReconnectsAfterADroppedConnection) {
  FakeLogonServer server;
  ClientOptions o;
  o.port = server.port();
  o.credentials = {"bench", "s3cret", "WORKGROUP", "W"};
  o.share = "bench";
  o.sign = true;
  o.timeout = std::chrono::milliseconds(5000);
  Client c(o);
  ASSERT_TRUE(c.connect().ok());
  EXPECT_EQ(c.dialect(), smb2::SMB2_DIALECT_210);
  EXPECT_EQ(c.treeId(), 7u);
  EXPECT_TRUE(c.signing());
  EXPECT_EQ(c.transport().sessionId(), 0x99u);
  EXPECT_EQ(server.tree_path, "\\\\127.0.0.1\\bench");

  // The server drops the connection instead of answering: the request fails, not hangs.
  absl::StatusCode code = absl::StatusCode::kOk;
  bool done = false;
  c.submit(smb2::SMB2_ECHO, echoBody(), [&](const Reply& r) {
    code = r.status.code();
    done = true;
  });
  (void)c.transport().runUntil([&] { return done; }, std::chrono::seconds(5));
  EXPECT_TRUE(done);
  EXPECT_EQ(code, absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c.transport().connected());

  ASSERT_TRUE(c.reconnect().ok());
  EXPECT_EQ(c.reconnects(), 1u);
  auto echo = c.call(smb2::SMB2_ECHO, echoBody());
  EXPECT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(server.logons.load(), 2);
  EXPECT_EQ(server.echoes_answered.load(), 1);
  EXPECT_GE(server.signed_requests.load(), 3);  // tree connects and the echoes
  EXPECT_EQ(server.bad_signatures.load(), 0);
  c.transport().close(absl::CancelledError("done"));
}

TEST(Client, WrongPasswordFailsTheLogon) {
  FakeLogonServer server;
  ClientOptions o;
  o.port = server.port();
  o.credentials = {"bench", "nope", "WORKGROUP", "W"};
  o.share = "bench";
  Client c(o);
  auto st = c.connect();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("STATUS_LOGON_FAILURE"), std::string::npos) << st;
  c.transport().close(absl::CancelledError("done"));
  // Let the server's second accept finish.
  Client c2(o);
  (void)c2.connect();
}

TEST(Histogram, PercentilesWithinBucketResolution) {
  Histogram h;
  for (uint64_t us = 1; us <= 1000; ++us) h.record(us * 1000);
  EXPECT_EQ(h.count(), 1000u);
  auto near = [](uint64_t got, uint64_t want) { return got >= want && got <= want + want / 32; };
  EXPECT_TRUE(near(h.percentile(0.5), 501000)) << h.percentile(0.5);
  EXPECT_TRUE(near(h.percentile(0.99), 991000)) << h.percentile(0.99);
  EXPECT_EQ(h.percentile(1.0), 1000000u);
  EXPECT_EQ(h.max(), 1000000u);
  Histogram other;
  other.record(5);
  h.merge(other);
  EXPECT_EQ(h.count(), 1001u);
  EXPECT_EQ(h.percentile(0.0), 5u);
  EXPECT_EQ(Histogram().percentile(0.5), 0u);
}

}  // namespace
}  // namespace xsmb::bench
