// CreditWindow: the MessageId window of MS-SMB2 3.3.1.1 / 3.3.5.2.3.
#include "server/session/credits.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xsmb::session {
namespace {

struct Step {
  enum Op { kConsume, kGrant } op;
  uint64_t message_id;  // kConsume only
  uint16_t n;           // charge (kConsume) or credits (kGrant)
  bool ok;              // kConsume: expected result
  uint64_t outstanding;
  uint64_t low;
};

struct SequenceCase {
  std::string description;
  std::vector<Step> steps;
};

Step consume(uint64_t mid, uint16_t charge, bool ok, uint64_t outstanding, uint64_t low) {
  return {Step::kConsume, mid, charge, ok, outstanding, low};
}
Step grant(uint16_t credits, uint64_t outstanding, uint64_t low) {
  return {Step::kGrant, 0, credits, true, outstanding, low};
}

TEST(CreditWindowTest, Sequences) {
  const std::vector<SequenceCase> cases = {
      {"in order, one credit at a time",
       {consume(0, 1, true, 0, 1), grant(1, 1, 1), consume(1, 1, true, 0, 2), grant(2, 2, 2),
        consume(2, 1, true, 1, 3), consume(3, 1, true, 0, 4)}},
      {"the window starts with MessageId 0 only",
       {consume(1, 1, false, 1, 0), consume(0, 2, false, 1, 0), consume(0, 1, true, 0, 1),
        consume(1, 1, false, 0, 1)}},
      {"skipped MessageId used later (smb2.credits.skipped_mid)",
       {consume(0, 1, true, 0, 1), grant(4, 4, 1), consume(2, 1, true, 3, 1),
        consume(4, 1, true, 2, 1), consume(3, 1, true, 1, 1), consume(1, 1, true, 0, 5)}},
      {"duplicate MessageIds are rejected, above and below the low mark",
       {consume(0, 1, true, 0, 1), grant(3, 3, 1), consume(2, 1, true, 2, 1),
        consume(2, 1, false, 2, 1), consume(1, 1, true, 1, 3), consume(1, 1, false, 1, 3),
        consume(0, 1, false, 1, 3), consume(2, 1, false, 1, 3)}},
      {"multi-credit charges",
       {consume(0, 1, true, 0, 1), grant(8, 8, 1), consume(1, 4, true, 4, 5),
        consume(5, 4, true, 0, 9), consume(9, 1, false, 0, 9)}},
      {"a charge overlapping used ids consumes nothing",
       {consume(0, 1, true, 0, 1), grant(8, 8, 1), consume(3, 2, true, 6, 1),
        consume(2, 2, false, 6, 1), consume(4, 3, false, 6, 1), consume(1, 2, true, 4, 5),
        consume(5, 4, true, 0, 9)}},
      {"ids and charges beyond the window",
       {consume(0, 1, true, 0, 1), grant(2, 2, 1), consume(3, 1, false, 2, 1),
        consume(2, 2, false, 2, 1), consume(1, 3, false, 2, 1), consume(2, 1, true, 1, 1),
        consume(1, 1, true, 0, 3)}},
      {"CreditCharge 0 counts as 1",
       {consume(0, 0, true, 0, 1), grant(2, 2, 1), consume(1, 0, true, 1, 2)}},
      {"MessageIds near 2^64 do not wrap around",
       {consume(UINT64_MAX, 1, false, 1, 0), consume(UINT64_MAX - 1, 0xFFFF, false, 1, 0),
        consume(0, 1, true, 0, 1), grant(0xFFFF, 0xFFFF, 1),
        consume(UINT64_MAX - 0xFFFE, 0xFFFF, false, 0xFFFF, 1)}},
      {"a large grant, used from the top down",
       {consume(0, 1, true, 0, 1), grant(512, 512, 1), consume(512, 1, true, 511, 1),
        consume(511, 1, true, 510, 1), consume(1, 510, true, 0, 513),
        consume(513, 1, false, 0, 513)}},
  };
  for (const SequenceCase& c : cases) {
    SCOPED_TRACE(c.description);
    CreditWindow w;
    EXPECT_EQ(w.outstanding(), 1u);
    EXPECT_EQ(w.low(), 0u);
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const Step& s = c.steps[i];
      SCOPED_TRACE("step " + std::to_string(i));
      if (s.op == Step::kConsume) {
        EXPECT_EQ(w.consume(s.message_id, s.n), s.ok);
      } else {
        w.grant(s.n);
      }
      EXPECT_EQ(w.outstanding(), s.outstanding);
      EXPECT_EQ(w.low(), s.low);
    }
  }
}

}  // namespace
}  // namespace xsmb::session
