#include "rpc/ndr.h"

#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace xsmb::rpc {
namespace {

TEST(SidTest, ParseAndFormat) {
  struct Case {
    const char* text;
    bool ok;
  } cases[] = {
      {"S-1-5-21-3956432685-3068663317-851033068", true},
      {"S-1-5-32-544", true},
      {"S-1-1-0", true},
      {"S-1-5", true},
      {"S-1", false},
      {"S-1-5-", false},
      {"X-1-5-21", false},
      {"S-1-5-21-4294967296", false},
      {"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", false},
      {"S-1-281474976710656-1", false},
  };
  for (const auto& c : cases) {
    auto s = Sid::parse(c.text);
    EXPECT_EQ(s.has_value(), c.ok) << c.text;
    if (s) EXPECT_EQ(s->toString(), c.text);
  }
  Sid d = *Sid::parse("S-1-5-21-1-2-3");
  Sid u = d.withRid(1000);
  EXPECT_EQ(u.toString(), "S-1-5-21-1-2-3-1000");
  uint32_t rid = 0;
  EXPECT_TRUE(u.isInDomain(d, &rid));
  EXPECT_EQ(rid, 1000u);
  EXPECT_FALSE(d.isInDomain(d, &rid));
  EXPECT_FALSE(Sid::parse("S-1-5-21-1-2-4-1000")->isInDomain(d, &rid));
}

// Every encoding below is checked byte for byte, decoded back, and decoded from every
// truncation (which must fail, never read out of bounds).
struct NdrCase {
  const char* name;
  std::function<void(NdrWriter&)> encode;
  Bytes expected;
  std::function<void(NdrReader&)> decode;  // EXPECTs on values; reader ok() checked outside
};

std::vector<NdrCase> ndrCases() {
  return {
      {"primitives_aligned",
       [](NdrWriter& w) {
         w.u8(1);
         w.u16(0x0302);
         w.u8(4);
         w.u32(0x08070605);
         w.u64(0x100F0E0D0C0B0A09ULL);
       },
       {1, 0, 2, 3, 4, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16},
       [](NdrReader& r) {
         EXPECT_EQ(r.u8(), 1);
         EXPECT_EQ(r.u16(), 0x0302);
         EXPECT_EQ(r.u8(), 4);
         EXPECT_EQ(r.u32(), 0x08070605u);
         EXPECT_EQ(r.u64(), 0x100F0E0D0C0B0A09ULL);
       }},
      {"cv_string",
       [](NdrWriter& w) { w.cvString("ab"); },
       {3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 'b', 0, 0, 0},
       [](NdrReader& r) { EXPECT_EQ(r.cvString(), "ab"); }},
      {"unique_string_pointer",
       [](NdrWriter& w) {
         w.deferredPointer(true, [](NdrWriter& w2) { w2.cvString("x"); });
         w.deferredPointer(false, nullptr);
         w.flush();
       },
       {0, 0, 2, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'x', 0, 0, 0},
       [](NdrReader& r) {
         EXPECT_EQ(r.pointer(), 0x00020000u);
         EXPECT_EQ(r.pointer(), 0u);
         EXPECT_EQ(r.cvString(), "x");
       }},
      {"rpc_unicode_string",
       [](NdrWriter& w) {
         w.unicodeString("hi");
         w.flush();
       },
       {4, 0, 4, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'h', 0, 'i', 0},
       [](NdrReader& r) {
         auto h = readUnicodeStringHeader(r);
         EXPECT_EQ(h.length, 4);
         EXPECT_EQ(readUnicodeStringBody(r, h), "hi");
       }},
      // A struct aligns to its widest member: Length of an RPC_UNICODE_STRING after a USHORT
      // (e.g. LSAPR_TRANSLATED_NAME.Use) starts at the next 4-byte boundary.
      {"rpc_unicode_string_after_u16",
       [](NdrWriter& w) {
         w.u16(8);
         w.unicodeString("", true);
         w.flush();
       },
       {8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       [](NdrReader& r) {
         EXPECT_EQ(r.u16(), 8);
         auto h = readUnicodeStringHeader(r);
         EXPECT_EQ(h.referent, 0u);
         EXPECT_EQ(readUnicodeStringBody(r, h), "");
       }},
      {"sid",
       [](NdrWriter& w) { w.sid(*Sid::parse("S-1-5-32-544")); },
       {2, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0},
       [](NdrReader& r) { EXPECT_EQ(r.sid().toString(), "S-1-5-32-544"); }},
      {"policy_handle",
       [](NdrWriter& w) {
         PolicyHandle h;
         h.attributes = 7;
         h.uuid[15] = 9;
         w.policyHandle(h);
       },
       {7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
       [](NdrReader& r) {
         PolicyHandle h = r.policyHandle();
         EXPECT_EQ(h.attributes, 7u);
         EXPECT_EQ(h.uuid[15], 9);
       }},
      // A conformant array of structs with embedded pointers: all scalars first, then the
      // referents in order, each followed by its own (nested) referents (C706 14.3.12.3).
      {"deferred_nested",
       [](NdrWriter& w) {
         w.u32(2);
         for (int i = 0; i < 2; ++i) {
           w.deferredPointer(true, [i](NdrWriter& w2) {
             w2.u32(0xA0 + i);
             w2.deferredPointer(true, [i](NdrWriter& w3) { w3.u32(0xB0 + i); });
           });
         }
         w.flush();
       },
       {2, 0, 0,    0, 0, 0, 2,    0, 4, 0, 2,    0, 0xA0, 0, 0,    0, 8, 0,
        2, 0, 0xB0, 0, 0, 0, 0xA1, 0, 0, 0, 0x0C, 0, 2,    0, 0xB1, 0, 0, 0},
       [](NdrReader& r) {
         uint32_t n = r.conformance(4);
         EXPECT_EQ(n, 2u);
         EXPECT_NE(r.pointer(), 0u);
         EXPECT_NE(r.pointer(), 0u);
         for (uint32_t i = 0; i < 2; ++i) {
           EXPECT_EQ(r.u32(), 0xA0 + i);
           EXPECT_NE(r.pointer(), 0u);
           EXPECT_EQ(r.u32(), 0xB0 + i);
         }
       }},
      {"conformant_varying_array",
       [](NdrWriter& w) {
         w.u32(10);  // max_count
         w.u32(0);   // offset
         w.u32(2);   // actual_count
         w.u16(0x1111);
         w.u16(0x2222);
       },
       {10, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0x11, 0x11, 0x22, 0x22},
       [](NdrReader& r) {
         uint32_t max = r.conformance(0);
         auto v = r.variance(max, 2);
         EXPECT_EQ(max, 10u);
         EXPECT_EQ(v.actual, 2u);
         EXPECT_EQ(r.u16(), 0x1111);
         EXPECT_EQ(r.u16(), 0x2222);
       }},
  };
}

TEST(NdrTest, EncodeDecodeAndTruncate) {
  for (const auto& c : ndrCases()) {
    SCOPED_TRACE(c.name);
    NdrWriter w;
    c.encode(w);
    Bytes b = w.take();
    EXPECT_EQ(b, c.expected);
    NdrReader r(b);
    c.decode(r);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
    for (size_t len = 0; len < b.size(); ++len) {
      NdrReader cut(ByteSpan(b.data(), len));
      // Values read from a truncated stream are zero; only the failure matters here.
      ::testing::TestPartResultArray ignored;
      {
        ::testing::ScopedFakeTestPartResultReporter rep(
            ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &ignored);
        c.decode(cut);
      }
      EXPECT_FALSE(cut.ok()) << "cut at " << len;
    }
  }
}

TEST(NdrTest, FullPointerReferentOnlyOnce) {
  Bytes b = {4, 0, 2, 0, 4, 0, 2, 0, 0, 0, 0, 0};
  NdrReader r(b);
  uint32_t id = 0;
  EXPECT_TRUE(r.fullPointer(&id));
  EXPECT_EQ(id, 0x00020004u);
  EXPECT_FALSE(r.fullPointer(&id));  // same id: referent already transmitted
  EXPECT_FALSE(r.fullPointer(&id));  // NULL
  EXPECT_EQ(id, 0u);
  EXPECT_TRUE(r.ok());
}

TEST(NdrTest, LimitsRejectHostileCounts) {
  // max_count far beyond the bytes present.
  Bytes huge = {0xFF, 0xFF, 0xFF, 0x0F, 0, 0, 0, 0};
  NdrReader r1(huge);
  r1.conformance(1, 0xFFFFFFFF);
  EXPECT_FALSE(r1.ok());
  // Count within the bytes but above the configured cap.
  NdrLimits lim;
  lim.max_count = 4;
  Bytes five = {5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  NdrReader r2(five, lim);
  r2.conformance(4);
  EXPECT_FALSE(r2.ok());
  // offset + actual_count beyond max_count.
  Bytes var = {2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  NdrReader r3(var);
  r3.variance(3, 1);
  EXPECT_FALSE(r3.ok());
  // A string without its terminator, and one with a non-zero offset.
  Bytes noterm = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a', 0};
  NdrReader r4(noterm);
  r4.cvString();
  EXPECT_FALSE(r4.ok());
  Bytes offset = {2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0};
  NdrReader r5(offset);
  r5.cvString();
  EXPECT_FALSE(r5.ok());
  // SID whose conformance disagrees with SubAuthorityCount, and one with 16 sub-authorities.
  Bytes badsid = {1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0};
  NdrReader r6(badsid);
  r6.sid();
  EXPECT_FALSE(r6.ok());
  Bytes bigsid(8 + 4 + 64, 0);
  bigsid[0] = 16;
  bigsid[4] = 1;
  bigsid[5] = 16;
  NdrReader r7(bigsid);
  r7.sid();
  EXPECT_FALSE(r7.ok());
  // Embedded [ref] pointer must not be NULL.
  Bytes null_ref = {0, 0, 0, 0};
  NdrReader r8(null_ref);
  EXPECT_FALSE(r8.refPointer());
  // RPC_UNICODE_STRING with Length > MaximumLength.
  Bytes badlen = {6, 0, 4, 0, 0, 0, 2, 0};
  NdrReader r9(badlen);
  readUnicodeStringHeader(r9);
  EXPECT_FALSE(r9.ok());
}

TEST(NdrTest, DepthGuard) {
  NdrLimits lim;
  lim.max_depth = 2;
  Bytes b(4, 0);
  NdrReader r(b, lim);
  {
    NdrReader::DepthGuard g1(&r);
    NdrReader::DepthGuard g2(&r);
    EXPECT_TRUE(r.ok());
    NdrReader::DepthGuard g3(&r);
    EXPECT_FALSE(r.ok());
  }
}

TEST(NdrTest, PointerCountLimit) {
  NdrLimits lim;
  lim.max_pointers = 2;
  Bytes b = {4, 0, 2, 0, 8, 0, 2, 0, 12, 0, 2, 0};
  NdrReader r(b, lim);
  r.pointer();
  r.pointer();
  EXPECT_TRUE(r.ok());
  r.pointer();
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace xsmb::rpc
