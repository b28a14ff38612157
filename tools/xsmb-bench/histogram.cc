#include "tools/xsmb-bench/histogram.h"

#include <algorithm>
#include <bit>

namespace xsmb::bench {

int Histogram::indexOf(uint64_t v) {
  constexpr uint64_t kSub = 1u << kSubBits;
  if (v < kSub) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= kSubBits
  int shift = msb - kSubBits;
  int idx = ((shift + 1) << kSubBits) + static_cast<int>((v >> shift) - kSub);
  return std::min(idx, kBuckets - 1);
}

uint64_t Histogram::upperEdge(int index) {
  constexpr uint64_t kSub = 1u << kSubBits;
  if (index < static_cast<int>(kSub)) return index;
  int shift = (index >> kSubBits) - 1;
  uint64_t base = (kSub + (index & (kSub - 1))) << shift;
  return base + ((1ULL << shift) - 1);
}

void Histogram::record(uint64_t ns) {
  ++buckets_[indexOf(ns)];
  ++count_;
  sum_ += ns;
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& o) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
}

uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_));
  if (rank >= count_) rank = count_ - 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen > rank) return std::min(upperEdge(i), max_);
  }
  return max_;
}

}  // namespace xsmb::bench
