#include "common/smb2/network_interface_info.h"

#include <algorithm>

namespace xsmb::smb2 {

Bytes encodeNetworkInterfaceInfo(const std::vector<NetworkInterfaceInfo>& list) {
  ByteWriter w;
  for (size_t i = 0; i < list.size(); ++i) {
    const NetworkInterfaceInfo& n = list[i];
    w.u32(i + 1 < list.size() ? static_cast<uint32_t>(kNetworkInterfaceInfoSize) : 0);
    w.u32(n.if_index);
    w.u32(n.capability);
    w.u32(0);  // Reserved
    w.u64(n.link_speed);
    w.u16(n.family);
    if (n.family == kInterNetworkV6) {
      w.u16(0);  // Port
      w.u32(0);  // FlowInfo
      w.bytes(n.address.data(), 16);
      w.u32(0);  // ScopeId
      w.zeros(128 - 2 - 2 - 4 - 16 - 4);
    } else {
      w.u16(0);  // Port
      w.bytes(n.address.data(), 4);
      w.zeros(128 - 2 - 2 - 4);
    }
  }
  return w.take();
}

NtStatus decodeNetworkInterfaceInfo(ByteSpan data, std::vector<NetworkInterfaceInfo>* out) {
  out->clear();
  size_t off = 0;
  for (;;) {
    if (out->size() >= kMaxNetworkInterfaceDecode) return STATUS_INVALID_PARAMETER;
    if (data.size() < kNetworkInterfaceInfoSize || off > data.size() - kNetworkInterfaceInfoSize) {
      return STATUS_INVALID_PARAMETER;
    }
    ByteReader r(data.subspan(off, kNetworkInterfaceInfoSize));
    NetworkInterfaceInfo n;
    uint32_t next = r.u32();
    n.if_index = r.u32();
    n.capability = r.u32();
    r.u32();  // Reserved
    n.link_speed = r.u64();
    n.family = r.u16();
    r.u16();  // Port
    if (n.family == kInterNetwork) {
      ByteSpan a = r.bytes(4);
      std::copy(a.begin(), a.end(), n.address.begin());
    } else if (n.family == kInterNetworkV6) {
      r.u32();  // FlowInfo
      ByteSpan a = r.bytes(16);
      std::copy(a.begin(), a.end(), n.address.begin());
    } else {
      return STATUS_INVALID_PARAMETER;
    }
    if (!r.ok()) return STATUS_INVALID_PARAMETER;
    out->push_back(n);
    if (next == 0) return STATUS_SUCCESS;
    if (next < kNetworkInterfaceInfoSize || next % 8) return STATUS_INVALID_PARAMETER;
    off += next;
  }
}

}  // namespace xsmb::smb2
