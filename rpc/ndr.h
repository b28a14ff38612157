// NDR 2.0 transfer syntax (C706 chapter 14, MS-RPCE 2.2.5): little-endian, ASCII, IEEE data
// representation only. NdrReader decodes untrusted stub data with strict bounds: every count
// is checked against the bytes that remain and against NdrLimits, so a hostile count cannot
// make the reader allocate or loop more than the input justifies. NdrWriter encodes, with the
// deferral of embedded pointer referents that NDR requires (C706 14.3.12.3).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/base/bytes.h"

namespace xsmb::rpc {

// Caps applied while decoding; a value beyond a cap fails the reader (-> fault
// RPC_X_BAD_STUB_DATA), it never truncates silently.
struct NdrLimits {
  uint32_t max_count = 4096;         // elements of one conformant or varying array
  uint32_t max_string_chars = 4096;  // UTF-16 code units of one string
  uint32_t max_depth = 8;            // nesting of constructed types (DepthGuard)
  uint32_t max_pointers = 16384;     // referent ids in one stub (full pointer table)
};

// MS-DTYP 2.4.2.3 RPC_SID: a security identifier. sub_authorities has at most 15 entries.
struct Sid {
  uint8_t revision = 1;
  std::array<uint8_t, 6> authority{};  // big-endian 48-bit IdentifierAuthority
  std::vector<uint32_t> sub_authorities;

  // Parses "S-1-5-21-1-2-3" (MS-DTYP 2.4.2.1); nullopt when malformed or > 15 sub-authorities.
  static std::optional<Sid> parse(std::string_view text);
  std::string toString() const;
  // The SID with `rid` appended (a domain SID + RID = an account SID).
  Sid withRid(uint32_t rid) const;
  // True when this SID is `domain` plus exactly one more sub-authority (stored in *rid).
  bool isInDomain(const Sid& domain, uint32_t* rid) const;
  bool operator==(const Sid&) const = default;
};

// MS-DTYP 2.2.1 / MS-LSAD 2.2.2.1: a 20-byte context handle (attributes + GUID).
struct PolicyHandle {
  uint32_t attributes = 0;
  std::array<uint8_t, 16> uuid{};
  bool isNull() const;
  bool operator==(const PolicyHandle&) const = default;
};

class NdrReader {
 public:
  explicit NdrReader(ByteSpan stub, NdrLimits limits = {}) : r_(stub), limits_(limits) {}

  bool ok() const { return r_.ok(); }
  void fail() { r_.fail(); }
  size_t offset() const { return r_.offset(); }
  size_t remaining() const { return r_.remaining(); }
  const NdrLimits& limits() const { return limits_; }

  // Primitives align to their own size first (C706 14.2.2); alignment is relative to the
  // start of the stub, which the PDU layer places at an 8-byte boundary.
  void align(size_t n);
  uint8_t u8() { return r_.u8(); }
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  ByteSpan bytes(size_t n) { return r_.bytes(n); }

  // [unique] or [ptr] pointer: the referent id (0 = NULL). Ids are counted against
  // max_pointers.
  uint32_t pointer();
  // Embedded [ref] pointer: must be non-NULL (a NULL fails the reader).
  bool refPointer();
  // [ptr] full pointer (C706 14.3.11.3): returns true when the referent follows in the stream
  // (first occurrence of a non-NULL id); false for NULL or an id already seen.
  bool fullPointer(uint32_t* id);

  // Conformance (max_count) of a conformant array, checked against `cap` (default
  // limits().max_count) and against the bytes left, given `min_elem_size` bytes per element.
  uint32_t conformance(uint32_t min_elem_size, uint32_t cap = 0);
  // Variance (offset, actual_count) of a varying array of at most `max_count` elements;
  // offset + actual_count must not exceed max_count.
  struct Variance {
    uint32_t offset = 0;
    uint32_t actual = 0;
  };
  Variance variance(uint32_t max_count, uint32_t min_elem_size);

  // [string] wchar_t* referent (conformant varying, NUL-terminated): max_count, offset,
  // actual_count, UTF-16LE units. Returns UTF-8 without the terminator.
  std::string cvString();
  // Deferred part of an RPC_UNICODE_STRING (MS-DTYP 2.3.10) whose header said Length and
  // MaximumLength (bytes): conformant varying array of Length/2 units, no terminator.
  std::string unicodeStringBody(uint16_t length, uint16_t max_length);
  // RPC_SID (conformant struct): SubAuthorityCount as conformance, then the fields.
  Sid sid();
  PolicyHandle policyHandle();

  // Depth of constructed types being decoded; fails the reader past limits().max_depth.
  class DepthGuard {
   public:
    explicit DepthGuard(NdrReader* r) : r_(r) {
      if (++r_->depth_ > r_->limits_.max_depth) r_->fail();
    }
    ~DepthGuard() { --r_->depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    NdrReader* r_;
  };

 private:
  std::string utf16(ByteSpan units);

  ByteReader r_;
  NdrLimits limits_;
  uint32_t depth_ = 0;
  uint32_t pointers_ = 0;
  std::unordered_set<uint32_t> full_ids_;
};

// RPC_UNICODE_STRING header as decoded (MS-DTYP 2.3.10); body filled in after deferral.
struct UnicodeStringHeader {
  uint16_t length = 0;
  uint16_t max_length = 0;
  uint32_t referent = 0;
};
UnicodeStringHeader readUnicodeStringHeader(NdrReader& r);
// Reads the deferred body (empty string for a NULL buffer).
std::string readUnicodeStringBody(NdrReader& r, const UnicodeStringHeader& h);

class NdrWriter {
 public:
  NdrWriter() = default;

  size_t size() const { return w_.size(); }
  Bytes take() { return w_.take(); }
  const Bytes& buf() const { return w_.buf(); }

  void align(size_t n) { w_.align(n); }
  void u8(uint8_t v) { w_.u8(v); }
  void u16(uint16_t v) {
    align(2);
    w_.u16(v);
  }
  void u32(uint32_t v) {
    align(4);
    w_.u32(v);
  }
  void u64(uint64_t v) {
    align(8);
    w_.u64(v);
  }
  void bytes(ByteSpan b) { w_.bytes(b); }
  void zeros(size_t n) { w_.zeros(n); }

  // A fresh non-zero referent id (0x00020000, 0x00020004, ... as Windows numbers them).
  uint32_t nextReferent();
  // Writes a [unique]/[ptr] pointer: a fresh referent id when `present`, else 0.
  void pointer(bool present);
  // Embedded pointer whose referent `body` is written later by flush(), after the
  // enclosing constructed type (C706 14.3.12.3). NULL when !present (body not run).
  void deferredPointer(bool present, std::function<void(NdrWriter&)> body);
  // Writes every deferred referent in order; each referent's own deferred pointers follow it.
  void flush();

  // [string] wchar_t* referent: max_count, offset 0, actual_count, UTF-16LE units + NUL.
  void cvString(std::string_view utf8);
  // RPC_UNICODE_STRING (MS-DTYP 2.3.10) with its buffer deferred; empty -> NULL buffer
  // when `null_if_empty`.
  void unicodeString(std::string_view utf8, bool null_if_empty = false);
  // RPC_SID conformant struct (conformance first).
  void sid(const Sid& s);
  void policyHandle(const PolicyHandle& h);

 private:
  ByteWriter w_;
  uint32_t next_referent_ = 0x00020000;
  std::vector<std::function<void(NdrWriter&)>> deferred_;
};

// RPC_X_BAD_STUB_DATA, the fault Windows returns for undecodable stub data (MS-RPCE 3.1.1.5.5).
constexpr uint32_t kFaultBadStubData = 0x000006F7;

}  // namespace xsmb::rpc
