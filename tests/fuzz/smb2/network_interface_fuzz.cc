// Input: the output buffer of FSCTL_QUERY_NETWORK_INTERFACE_INFO as a client receives it
// (MS-SMB2 2.2.32.5; untrusted bytes). Checks: nothing is read outside the input; a list that
// decodes re-encodes to exactly 152 bytes per entry, which decodes to the same list.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/smb2/network_interface_info.h"

namespace {

using namespace xsmb;
using namespace xsmb::smb2;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<NetworkInterfaceInfo> list;
  if (decodeNetworkInterfaceInfo(ByteSpan(data, size), &list) != STATUS_SUCCESS) return 0;
  check(!list.empty() && size >= kNetworkInterfaceInfoSize);
  Bytes out = encodeNetworkInterfaceInfo(list);
  check(out.size() == list.size() * kNetworkInterfaceInfoSize);
  std::vector<NetworkInterfaceInfo> again;
  check(decodeNetworkInterfaceInfo(out, &again) == STATUS_SUCCESS);
  check(again == list);
  return 0;
}
