// Latency histogram for xsmb-bench: log-linear buckets (HdrHistogram-like, 1/64 relative
// resolution) from 1 ns to ~17 minutes, mergeable across threads, percentiles by bucket.
#pragma once

#include <array>
#include <cstdint>

namespace xsmb::bench {

class Histogram {
 public:
  void record(uint64_t nanoseconds);
  void merge(const Histogram& other);
  uint64_t count() const { return count_; }
  // The value (ns) below which fraction `q` (0..1) of the samples lie; upper edge of the
  // bucket, so within 1/64 of the true value. 0 when empty.
  uint64_t percentile(double q) const;
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr int kBuckets = (40 - kSubBits + 1) << kSubBits;
  static int indexOf(uint64_t v);
  static uint64_t upperEdge(int index);
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0, sum_ = 0, max_ = 0;
};

}  // namespace xsmb::bench
