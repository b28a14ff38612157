#include "common/crypto/ntlm.h"

#include <chrono>

#include "common/base/unicode.h"

namespace xsmb::crypto {
namespace {

// Seconds between 1601-01-01 and 1970-01-01, for FILETIME (MS-DTYP 2.3.3).
constexpr uint64_t kFiletimeUnixOffset = 11644473600ull;

Key16 md5Concat(ByteSpan a, std::string_view magic_with_nul) {
  Bytes in(a.begin(), a.end());
  in.insert(in.end(), magic_with_nul.begin(), magic_with_nul.end());
  return md5(in);
}

}  // namespace

Key16 ntowfV2(const Key16& nt_hash, std::string_view user_utf8, std::string_view domain_utf8) {
  Bytes id = utf8ToUtf16le(upcaseUtf8(user_utf8));
  appendUtf16le(domain_utf8, &id);
  return hmacMd5(nt_hash, id);
}

Key16 ntlmSignKey(const Key16& session_key, bool client_to_server) {
  static constexpr char kC2S[] = "session key to client-to-server signing key magic constant";
  static constexpr char kS2C[] = "session key to server-to-client signing key magic constant";
  // sizeof includes the terminating NUL, which is part of the constant.
  return md5Concat(session_key, client_to_server ? std::string_view(kC2S, sizeof(kC2S))
                                                 : std::string_view(kS2C, sizeof(kS2C)));
}

Key16 ntlmSealKey(const Key16& session_key, uint32_t negotiate_flags, bool client_to_server) {
  size_t base = 5;
  if (negotiate_flags & NTLMSSP_NEGOTIATE_128) {
    base = 16;
  } else if (negotiate_flags & NTLMSSP_NEGOTIATE_56) {
    base = 7;
  }
  static constexpr char kC2S[] = "session key to client-to-server sealing key magic constant";
  static constexpr char kS2C[] = "session key to server-to-client sealing key magic constant";
  std::string_view magic = client_to_server ? std::string_view(kC2S, sizeof(kC2S))
                                            : std::string_view(kS2C, sizeof(kS2C));
  return md5Concat(ByteSpan(session_key).first(base), magic);
}

Key16 ntlmSealKey(const Key16& session_key, bool client_to_server) {
  return ntlmSealKey(session_key, NTLMSSP_NEGOTIATE_128, client_to_server);
}

uint64_t ntlmTimestampNow() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  auto hundred_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count() / 100;
  return static_cast<uint64_t>(hundred_ns) + kFiletimeUnixOffset * 10'000'000ull;
}

}  // namespace xsmb::crypto
