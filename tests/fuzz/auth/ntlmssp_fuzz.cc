// Feeds arbitrary bytes to NtlmServer: the first byte picks how the input is split into a
// NEGOTIATE_MESSAGE and an AUTHENTICATE_MESSAGE, so both parsers and the MIC path are reached.
#include <cstddef>
#include <cstdint>

#include "server/auth/ntlmssp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xsmb;
  if (size < 2) return 0;
  size_t split = std::min<size_t>(data[0], size - 1);
  ByteSpan rest(data + 1, size - 1);
  ByteSpan negotiate = rest.first(split);
  ByteSpan authenticate = rest.subspan(split);

  auth::NtlmServer server({"XSMBD", "WORKGROUP", "xsmbd.test", "test"},
                          {1, 2, 3, 4, 5, 6, 7, 8}, 0x01d0000000000000ull);
  // Seeds are whole AUTHENTICATE messages; a valid NEGOTIATE lets them reach authenticate().
  static const uint8_t kNegotiate[] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 1, 0, 0, 0,
                                       0x35, 0x82, 0x8a, 0xe2};
  auto challenge = server.negotiate(negotiate);
  if (!challenge.ok()) challenge = server.negotiate(ByteSpan(kNegotiate, sizeof(kNegotiate)));
  if (!challenge.ok()) __builtin_trap();
  crypto::Key16 hash = crypto::ntHash("benchpass");
  auto lookup = [&hash](std::string_view user, std::string_view) -> std::optional<crypto::Key16> {
    if (user.empty()) return std::nullopt;
    return hash;
  };
  auto result = server.authenticate(authenticate, lookup);
  if (result.ok() && result->outcome == auth::NtlmOutcome::kAuthenticated) {
    Bytes mic = server.makeMic(authenticate);
    server.checkMic(authenticate, mic);
  }
  // Also the raw AUTHENTICATE on its own against the fixed negotiate.
  auth::NtlmServer second({"XSMBD", "WORKGROUP", "", ""}, {1, 2, 3, 4, 5, 6, 7, 8}, 0);
  if (second.negotiate(ByteSpan(kNegotiate, sizeof(kNegotiate))).ok()) {
    (void)second.authenticate(rest, lookup);
  }
  return 0;
}
