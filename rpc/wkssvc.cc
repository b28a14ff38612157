// wkssvc (MS-WKST): NetrWkstaGetInfo.
#include "rpc/service.h"

namespace xsmb::rpc {

namespace {

constexpr uint16_t kOpNetrWkstaGetInfo = 0;  // MS-WKST 3.2.4.1

class Wkssvc : public Service {
 public:
  explicit Wkssvc(CallContext ctx) : ctx_(std::move(ctx)) {}

  CallResult call(uint16_t opnum, ByteSpan stub) override {
    if (opnum != kOpNetrWkstaGetInfo) return {kNcaOpRangeError, {}};
    NdrReader r(stub);
    if (r.pointer()) r.cvString();  // [in, string, unique] ServerName
    uint32_t level = r.u32();
    if (!r.ok()) return {kFaultBadStubData, {}};

    const ServerInfo& info = *ctx_.info;
    NdrWriter w;
    auto str = [&w](std::string value) {
      w.deferredPointer(true, [value = std::move(value)](NdrWriter& w2) { w2.cvString(value); });
    };
    w.u32(level);
    if (level != 100 && level != 101 && level != 102) {
      w.pointer(false);
      w.u32(kWerrInvalidLevel);
      return {0, w.take()};
    }
    // WKSTA_INFO_100/101/102 (MS-WKST 2.2.5.1-2.2.5.3).
    w.pointer(true);
    w.u32(kPlatformIdNt);
    str(info.netbios_name);
    str(info.workgroup);
    w.u32(10);                      // ver_major
    w.u32(0);                       // ver_minor
    if (level >= 101) str("C:\\");  // lan_root
    if (level == 102) w.u32(0);     // logged_on_users: no interactive users on a file server
    w.flush();
    w.u32(kWerrOk);
    return {0, w.take()};
  }

 private:
  CallContext ctx_;
};

}  // namespace

std::unique_ptr<Service> makeWkssvc(CallContext ctx) {
  return std::make_unique<Wkssvc>(std::move(ctx));
}

}  // namespace xsmb::rpc
