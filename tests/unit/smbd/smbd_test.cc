// MS-SMBD messages (common/smbd/smbd.h): the example exchange of MS-SMBD 4.1 byte for byte, the
// listening side's negotiate rules (3.1.5.6) at each edge, the checks on received data transfer
// messages (3.1.5.8) from a table, reassembly of a message in the largest number of pieces,
// fragmenting, and buffer descriptor lists (2.2.3.1).
#include "common/smbd/smbd.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/smbd/data_message.h"

namespace xsmb::smbd {
namespace {

// MS-SMBD 4.1: MinVersion 0x0100, MaxVersion 0x0100, Reserved 0, CreditsRequested 10,
// PreferredSendSize 1 KiB, MaxReceiveSize 1 KiB, MaxFragmentedSize 128 KiB.
const Bytes kExampleRequest = {0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0A, 0x00, 0x00, 0x04,
                               0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00};

NegotiateRequest request(uint16_t min_v, uint16_t max_v, uint16_t credits, uint32_t send,
                         uint32_t recv, uint32_t frag) {
  NegotiateRequest q;
  q.min_version = min_v;
  q.max_version = max_v;
  q.credits_requested = credits;
  q.preferred_send_size = send;
  q.max_receive_size = recv;
  q.max_fragmented_size = frag;
  return q;
}

TEST(SmbdNegotiate, TheSpecificationsExampleRequestDecodesAndEncodes) {
  std::optional<NegotiateRequest> q = decodeNegotiateRequest(kExampleRequest);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->min_version, 0x0100);
  EXPECT_EQ(q->max_version, 0x0100);
  EXPECT_EQ(q->credits_requested, 10);
  EXPECT_EQ(q->preferred_send_size, 1024u);
  EXPECT_EQ(q->max_receive_size, 1024u);
  EXPECT_EQ(q->max_fragmented_size, 131072u);
  EXPECT_EQ(encodeNegotiateRequest(*q), kExampleRequest);
  Bytes short_by_one(kExampleRequest.begin(), kExampleRequest.end() - 1);
  EXPECT_FALSE(decodeNegotiateRequest(short_by_one));
}

TEST(SmbdNegotiate, TheSpecificationsExampleIsAnsweredAsMsSmbd41Shows) {
  // With our sizes at the example's 1 KiB and 10 credits, the answer is the one of MS-SMBD 4.1.
  Limits ours;
  ours.receive_credit_max = 10;
  ours.send_credit_target = 10;
  ours.max_send_size = ours.max_receive_size = 1024;
  ours.max_fragmented_size = 131072;
  ours.max_read_write_size = 1 << 20;
  NegotiateResponse resp;
  Negotiated n;
  ASSERT_EQ(acceptNegotiate(ours, kExampleRequest, &resp, &n), NegotiateOutcome::kAccept);
  const Bytes want = {0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,   // versions, reserved
                      0x0A, 0x00, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00,   // credits, status
                      0x00, 0x00, 0x10, 0x00, 0x00, 0x04, 0x00, 0x00,   // 1 MiB, 1 KiB
                      0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00};  // 1 KiB, 128 KiB
  EXPECT_EQ(encodeNegotiateResponse(resp), want);
  std::optional<NegotiateResponse> back = decodeNegotiateResponse(want);
  ASSERT_TRUE(back);
  EXPECT_EQ(encodeNegotiateResponse(*back), want);
  EXPECT_EQ(n.max_send_size, 1024u);
  EXPECT_EQ(n.max_receive_size, 1024u);
  EXPECT_EQ(n.max_fragmented_send_size, 131072u);
  EXPECT_EQ(n.receive_credit_target, 10);
}

TEST(SmbdNegotiate, EachEdgeOfTheRequest) {
  const Limits ours;  // 255 credits, 1364-byte sends and receives, 1 MiB fragmented
  struct Case {
    std::string what;
    NegotiateRequest q;
    NegotiateOutcome outcome;
    uint16_t granted = 0;
    uint32_t max_send = 0, max_receive = 0;
  };
  const Case cases[] = {
      {"1 credit, smallest sizes", request(0x100, 0x100, 1, 128, 128, 131072),
       NegotiateOutcome::kAccept, 1, 128, 128},
      {"0 credits", request(0x100, 0x100, 0, 1364, 1364, 1 << 20), NegotiateOutcome::kDisconnect},
      {"MaxReceiveSize 127", request(0x100, 0x100, 10, 1364, 127, 1 << 20),
       NegotiateOutcome::kDisconnect},
      {"MaxFragmentedSize 131071", request(0x100, 0x100, 10, 1364, 1364, 131071),
       NegotiateOutcome::kDisconnect},
      {"a PreferredSendSize below 128 is raised to 128", request(0x100, 0x100, 10, 20, 1364, 1 << 20),
       NegotiateOutcome::kAccept, 10, 1364, 128},
      {"more credits than we post: ours", request(0x100, 0x100, 65535, 1364, 1364, 1 << 20),
       NegotiateOutcome::kAccept, 255, 1364, 1364},
      {"sizes above ours: ours", request(0x100, 0x100, 255, 1 << 20, 1 << 20, 1u << 31),
       NegotiateOutcome::kAccept, 255, 1364, 1364},
      {"versions 1.0 to 2.0 include 1.0", request(0x100, 0x200, 10, 1364, 1364, 1 << 20),
       NegotiateOutcome::kAccept, 10, 1364, 1364},
      {"version 2.0 only", request(0x200, 0x200, 10, 1364, 1364, 1 << 20),
       NegotiateOutcome::kRefuse},
      {"versions 0.1 to 0.9", request(0x001, 0x009, 10, 1364, 1364, 1 << 20),
       NegotiateOutcome::kRefuse},
      {"MinVersion above MaxVersion", request(0x200, 0x001, 10, 1364, 1364, 1 << 20),
       NegotiateOutcome::kRefuse},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    NegotiateResponse resp;
    Negotiated n;
    EXPECT_EQ(acceptNegotiate(ours, encodeNegotiateRequest(c.q), &resp, &n), c.outcome);
    if (c.outcome == NegotiateOutcome::kRefuse) {
      EXPECT_EQ(resp.status, 0xC00000BBu);  // STATUS_NOT_SUPPORTED
      EXPECT_EQ(resp.negotiated_version, 0);
    }
    if (c.outcome != NegotiateOutcome::kAccept) continue;
    EXPECT_EQ(resp.status, 0u);
    EXPECT_EQ(resp.credits_granted, c.granted);
    EXPECT_EQ(n.max_send_size, c.max_send);
    EXPECT_EQ(resp.preferred_send_size, c.max_send);
    EXPECT_EQ(n.max_receive_size, c.max_receive);
    EXPECT_EQ(resp.max_receive_size, c.max_receive);
    EXPECT_EQ(resp.credits_requested, 255);
    EXPECT_EQ(resp.max_fragmented_size, 1u << 20);
  }
  NegotiateResponse resp;
  Negotiated n;
  EXPECT_EQ(acceptNegotiate(ours, ByteSpan(kExampleRequest).first(19), &resp, &n),
            NegotiateOutcome::kDisconnect);
}

using test::dataMessage;

TEST(SmbdDataTransfer, EveryMalformedHeaderIsRefused) {
  struct Case {
    std::string what;
    Bytes msg;
    bool ok;
  };
  const Case cases[] = {
      {"credit grant only, 20 bytes", dataMessage(1, 0, 0, 0, 0, 0, 20), true},
      {"100 bytes of data at 24", dataMessage(1, 0, 0, 0, 24, 100, 124), true},
      {"data then 1,000 more to come", dataMessage(1, 0, 0, 1000, 24, 100, 124), true},
      {"19 bytes", dataMessage(1, 0, 0, 0, 0, 0, 19), false},
      {"CreditsRequested 0", dataMessage(0, 0, 0, 0, 24, 100, 124), false},
      {"DataOffset not 8-byte aligned", dataMessage(1, 0, 0, 0, 28, 96, 124), false},
      {"DataOffset inside the header", dataMessage(1, 0, 0, 0, 16, 100, 124), false},
      {"data past the end by one byte", dataMessage(1, 0, 0, 0, 24, 101, 124), false},
      {"DataOffset past the end", dataMessage(1, 0, 0, 0, 128, 1, 124), false},
      {"DataOffset + DataLength wraps 32 bits",
       dataMessage(1, 0, 0, 0, 24, 0xFFFFFFF0u, 124), false},
      {"DataLength + Remaining above MaxFragmentedSize",
       dataMessage(1, 0, 0, (1 << 20) - 99, 24, 100, 124), false},
      {"DataLength + Remaining equal to MaxFragmentedSize",
       dataMessage(1, 0, 0, (1 << 20) - 100, 24, 100, 124), true},
      {"Remaining without data", dataMessage(1, 0, 0, 10, 0, 0, 20), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::optional<DataTransfer> m = decodeDataTransfer(c.msg, 1 << 20);
    EXPECT_EQ(m.has_value(), c.ok);
    if (m && m->data_length) {
      EXPECT_EQ(m->data.data(), c.msg.data() + m->data_offset);
      EXPECT_EQ(m->data.size(), m->data_length);
    }
  }
}

TEST(SmbdDataTransfer, EncodeDecodeRoundTripsWithAKeepAliveFlag) {
  DataTransfer h;
  h.credits_requested = 255;
  h.credits_granted = 17;
  h.flags = SMB_DIRECT_RESPONSE_REQUESTED;
  h.remaining_data_length = 5;
  Bytes payload = {1, 2, 3};
  Bytes msg = encodeDataTransfer(h, payload);
  ASSERT_EQ(msg.size(), kDataOffset + 3);
  std::optional<DataTransfer> m = decodeDataTransfer(msg, 1 << 20);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->credits_requested, 255);
  EXPECT_EQ(m->credits_granted, 17);
  EXPECT_EQ(m->flags, SMB_DIRECT_RESPONSE_REQUESTED);
  EXPECT_EQ(m->remaining_data_length, 5u);
  EXPECT_EQ(Bytes(m->data.begin(), m->data.end()), payload);
  // Without data: 20 bytes, DataOffset and RemainingDataLength 0.
  Bytes empty = encodeDataTransfer(h, {});
  EXPECT_EQ(empty.size(), kDataTransferMinSize);
  std::optional<DataTransfer> e = decodeDataTransfer(empty, 1 << 20);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->data_length, 0u);
  EXPECT_EQ(e->remaining_data_length, 0u);
}

TEST(SmbdReassembly, AMessageInTheLargestNumberOfPiecesComesBackWhole) {
  // 1 MiB sent 1,340 bytes at a time (1364-byte sends less the 24-byte header): 783 pieces.
  const uint32_t size = 1 << 20;
  Bytes message(size);
  for (uint32_t i = 0; i < size; ++i) message[i] = static_cast<uint8_t>(i * 131 + (i >> 11));
  std::vector<Fragment> pieces = fragment(size, 1364, size);
  ASSERT_EQ(pieces.size(), (size + 1339) / 1340);
  EXPECT_EQ(pieces.back().remaining, 0u);
  Reassembler r(size);
  Bytes out;
  for (size_t i = 0; i < pieces.size(); ++i) {
    DataTransfer h;
    h.credits_requested = 1;
    h.remaining_data_length = pieces[i].remaining;
    Bytes msg = encodeDataTransfer(
        h, ByteSpan(message).subspan(pieces[i].offset, pieces[i].length));
    ASSERT_LE(msg.size(), 1364u);
    std::optional<DataTransfer> m = decodeDataTransfer(msg, size);
    ASSERT_TRUE(m) << i;
    Reassembler::Result res = r.feed(*m, &out);
    ASSERT_EQ(res, i + 1 == pieces.size() ? Reassembler::Result::kComplete
                                           : Reassembler::Result::kIncomplete)
        << i;
  }
  EXPECT_TRUE(out == message);
  EXPECT_FALSE(r.inProgress());
  // One byte more than the peer may send in all cannot be fragmented.
  EXPECT_TRUE(fragment(size + 1, 1364, size).empty());
  EXPECT_TRUE(fragment(100, 24, size).empty());  // no room after the header
  EXPECT_TRUE(fragment(0, 1364, size).empty());
}

TEST(SmbdReassembly, AContinuationThatDisagreesIsAViolation) {
  Bytes data(100, 7);
  auto piece = [&](uint32_t remaining, size_t n) {
    DataTransfer m;
    m.credits_requested = 1;
    m.data_length = static_cast<uint32_t>(n);
    m.remaining_data_length = remaining;
    m.data = ByteSpan(data).first(n);
    return m;
  };
  Bytes out;
  Reassembler r(1000);
  ASSERT_EQ(r.feed(piece(150, 100), &out), Reassembler::Result::kIncomplete);
  // 150 announced: a piece of 100 must announce 50 left, not 60.
  EXPECT_EQ(r.feed(piece(60, 100), &out), Reassembler::Result::kViolation);
  Reassembler r2(1000);
  ASSERT_EQ(r2.feed(piece(50, 100), &out), Reassembler::Result::kIncomplete);
  EXPECT_EQ(r2.feed(piece(0, 100), &out), Reassembler::Result::kViolation);  // 100 > 50 left
  Reassembler r3(150);
  EXPECT_EQ(r3.feed(piece(51, 100), &out), Reassembler::Result::kViolation);  // 151 > 150
  Reassembler r4(150);
  ASSERT_EQ(r4.feed(piece(50, 100), &out), Reassembler::Result::kIncomplete);
  ASSERT_EQ(r4.feed(piece(0, 50), &out), Reassembler::Result::kComplete);
  EXPECT_EQ(out.size(), 150u);
}

TEST(SmbdBufferDescriptors, WholeDescriptorsOnly) {
  ByteWriter w;
  w.u64(0x1122334455667788ULL);
  w.u32(0xAABBCCDD);
  w.u32(65536);
  w.u64(0x10);
  w.u32(7);
  w.u32(1);
  Bytes two = w.take();
  std::optional<std::vector<BufferDescriptorV1>> list = decodeBufferDescriptors(two);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].offset, 0x1122334455667788ULL);
  EXPECT_EQ((*list)[0].token, 0xAABBCCDDu);
  EXPECT_EQ((*list)[0].length, 65536u);
  EXPECT_EQ((*list)[1].token, 7u);
  EXPECT_FALSE(decodeBufferDescriptors({}));
  EXPECT_FALSE(decodeBufferDescriptors(ByteSpan(two).first(31)));
  EXPECT_FALSE(decodeBufferDescriptors(ByteSpan(two).first(15)));
}

}  // namespace
}  // namespace xsmb::smbd
