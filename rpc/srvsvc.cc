// srvsvc (MS-SRVS): share enumeration and share/server information.
#include <algorithm>

#include "rpc/service.h"
#include "common/base/unicode.h"

namespace xsmb::rpc {

namespace {

constexpr uint16_t kOpNetrShareEnum = 15;        // MS-SRVS 3.1.4.8 (Samba: NetShareEnumAll)
constexpr uint16_t kOpNetrShareGetInfo = 16;     // MS-SRVS 3.1.4.10
constexpr uint16_t kOpNetrServerGetInfo = 21;    // MS-SRVS 3.1.4.17
constexpr uint16_t kOpNetrShareEnumSticky = 36;  // MS-SRVS 3.1.4.9 (Samba: NetShareEnum)

constexpr uint32_t kSvTypeWorkstation = 0x1;  // MS-SRVS 2.2.2.7
constexpr uint32_t kSvTypeServer = 0x2;
constexpr uint32_t kSvTypeServerNt = 0x8000;
constexpr uint32_t kSvTypePotentialBrowser = 0x10000;
constexpr uint32_t kServerType =
    kSvTypeWorkstation | kSvTypeServer | kSvTypeServerNt | kSvTypePotentialBrowser;

// Field layouts of SHARE_INFO_x (MS-SRVS 2.2.4.22-2.2.4.26) for decoding a client-supplied
// container: P = [string] wchar_t* (deferred), U = DWORD, B = DWORD size + byte-array pointer.
const char* shareLayout(uint32_t level) {
  switch (level) {
    case 0:
      return "P";
    case 1:
      return "PUP";
    case 2:
      return "PUPUUUPP";
    case 501:
      return "PUPU";
    case 502:
      return "PUPUUUPPB";
    default:
      return nullptr;
  }
}

bool isEnumLevel(uint32_t level) { return shareLayout(level) != nullptr; }

std::string windowsPath(const std::string& path) {
  if (path.empty()) return {};
  std::string out = "C:";
  for (char c : path) out += c == '/' ? '\\' : c;
  return out;
}

// Skips one array of client-supplied SHARE_INFO_level entries (scalars, then deferred parts).
void skipShareArray(NdrReader& r, uint32_t level) {
  NdrReader::DepthGuard guard(&r);
  const std::string layout = shareLayout(level);
  uint32_t n = r.conformance(4 * static_cast<uint32_t>(layout.size()));
  std::vector<char> deferred;  // one entry per non-NULL pointer, in stream order
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    for (char f : layout) {
      if (f == 'U') {
        r.u32();
      } else if (f == 'P') {
        if (r.pointer()) deferred.push_back('P');
      } else {
        r.u32();
        if (r.pointer()) deferred.push_back('B');
      }
    }
  }
  for (char d : deferred) {
    if (!r.ok()) return;
    if (d == 'P') {
      r.cvString();
    } else {
      uint32_t len = r.conformance(1, 1 << 16);
      r.bytes(len);
    }
  }
}

class Srvsvc : public Service {
 public:
  explicit Srvsvc(CallContext ctx) : ctx_(std::move(ctx)) {}

  CallResult call(uint16_t opnum, ByteSpan stub) override {
    NdrReader r(stub);
    NdrWriter w;
    switch (opnum) {
      case kOpNetrShareEnum:
      case kOpNetrShareEnumSticky:
        shareEnum(r, w);
        break;
      case kOpNetrShareGetInfo:
        shareGetInfo(r, w);
        break;
      case kOpNetrServerGetInfo:
        serverGetInfo(r, w);
        break;
      default:
        return {kNcaOpRangeError, {}};
    }
    if (!r.ok()) return {kFaultBadStubData, {}};
    return {0, w.take()};
  }

 private:
  // [in, string, unique] SRVSVC_HANDLE ServerName: its value does not matter here.
  static void readServerName(NdrReader& r) {
    if (r.pointer()) r.cvString();
  }

  std::vector<const ShareInfo*> visibleShares() const {
    std::vector<const ShareInfo*> out;
    bool have_ipc = false;
    for (const auto& s : ctx_.info->shares) {
      if ((s.type & 0xFF) == kStypeIpc) have_ipc = true;
      if (s.browseable) out.push_back(&s);
    }
    if (!have_ipc) out.push_back(&ipcShare());
    return out;
  }

  const ShareInfo* findShare(std::string_view name) const {
    for (const auto& s : ctx_.info->shares) {
      if (equalsIgnoreCase(s.name, name)) return &s;
    }
    if (equalsIgnoreCase(name, "IPC$")) return &ipcShare();
    return nullptr;
  }

  // IPC$ is always there, also when the snapshot does not list it.
  const ShareInfo& ipcShare() const {
    if (!ipc_) {
      ipc_ = std::make_unique<ShareInfo>();
      ipc_->name = "IPC$";
      ipc_->comment = "IPC Service (" + ctx_.info->server_string + ")";
      ipc_->type = kStypeIpc | kStypeSpecial;
    }
    return *ipc_;
  }

  // One SHARE_INFO_level's scalars; strings are deferred to w.flush().
  static void writeShare(NdrWriter& w, const ShareInfo& s, uint32_t level) {
    auto str = [&w](std::string value) {
      w.deferredPointer(true, [value = std::move(value)](NdrWriter& w2) { w2.cvString(value); });
    };
    if (level == 1005) {
      w.u32(0);  // shi1005_flags: no client-side caching policy bits
      return;
    }
    str(s.name);
    if (level == 0) return;
    w.u32(s.type);
    str(s.comment);
    if (level == 1) return;
    if (level == 501) {
      w.u32(0);  // shi501_flags
      return;
    }
    w.u32(0);            // permissions (ignored by clients, MS-SRVS 2.2.4.24)
    w.u32(0xFFFFFFFFu);  // max_uses: unlimited
    w.u32(0);            // current_uses
    str(windowsPath(s.path));
    w.deferredPointer(false, nullptr);  // passwd: share-level passwords are not used
    if (level == 502) {
      w.u32(0);                           // shi502_reserved: security descriptor size
      w.deferredPointer(false, nullptr);  // no security descriptor
    }
  }

  // MS-SRVS 3.1.4.8 NetrShareEnum / 3.1.4.9 NetrShareEnumSticky.
  void shareEnum(NdrReader& r, NdrWriter& w) {
    readServerName(r);
    uint32_t level = r.u32();
    uint32_t discriminant = r.u32();
    if (discriminant != level) r.fail();
    uint32_t ctr = r.pointer();
    if (ctr) {
      NdrReader::DepthGuard guard(&r);
      r.u32();  // EntriesRead
      uint32_t buffer = r.pointer();
      if (buffer) {
        if (!isEnumLevel(level)) {
          r.fail();
          return;
        }
        skipShareArray(r, level);
      }
    }
    r.u32();  // PreferedMaximumLength: everything fits in one reply
    bool has_resume = r.pointer() != 0;
    if (has_resume) r.u32();
    if (!r.ok()) return;

    // "restrict anonymous" 1 or 2: an empty container and WERR_ACCESS_DENIED, as Samba.
    const bool denied = anonymousRestricted(ctx_.caller);
    std::vector<const ShareInfo*> shares;
    if (!denied) shares = visibleShares();
    bool valid = isEnumLevel(level);
    auto n = static_cast<uint32_t>(valid ? shares.size() : 0);
    w.u32(level);
    w.u32(level);
    if (valid) {
      w.pointer(true);
      w.u32(n);
      w.pointer(true);
      w.u32(n);
      for (const ShareInfo* s : shares) writeShare(w, *s, level);
      w.flush();
    } else {
      w.pointer(false);
    }
    w.u32(n);  // TotalEntries
    w.pointer(has_resume);
    if (has_resume) w.u32(0);
    w.u32(denied ? kWerrAccessDenied : valid ? kWerrOk : kWerrInvalidLevel);
  }

  // MS-SRVS 3.1.4.10 NetrShareGetInfo.
  void shareGetInfo(NdrReader& r, NdrWriter& w) {
    readServerName(r);
    std::string name = r.cvString();
    uint32_t level = r.u32();
    if (!r.ok()) return;
    const ShareInfo* share = findShare(name);
    bool valid = isEnumLevel(level) || level == 1005;
    w.u32(level);
    if (!share || !valid) {
      w.pointer(false);
      w.u32(!valid ? kWerrInvalidLevel : kWerrNetNameNotFound);
      return;
    }
    w.pointer(true);
    writeShare(w, *share, level);
    w.flush();
    w.u32(kWerrOk);
  }

  // MS-SRVS 3.1.4.17 NetrServerGetInfo (levels 100, 101, 102).
  void serverGetInfo(NdrReader& r, NdrWriter& w) {
    readServerName(r);
    uint32_t level = r.u32();
    if (!r.ok()) return;
    const ServerInfo& info = *ctx_.info;
    w.u32(level);
    if (anonymousRestricted(ctx_.caller)) {  // "restrict anonymous" 1 or 2, as Samba
      w.pointer(false);
      w.u32(kWerrAccessDenied);
      return;
    }
    if (level != 100 && level != 101 && level != 102) {
      w.pointer(false);
      w.u32(kWerrInvalidLevel);
      return;
    }
    auto str = [&w](std::string value) {
      w.deferredPointer(true, [value = std::move(value)](NdrWriter& w2) { w2.cvString(value); });
    };
    w.pointer(true);
    w.u32(kPlatformIdNt);
    str(info.netbios_name);
    if (level >= 101) {
      w.u32(10);  // version_major: what Windows 10 / Server 2016+ report
      w.u32(0);   // version_minor
      w.u32(kServerType);
      str(info.server_string);
    }
    if (level == 102) {
      w.u32(0xFFFFFFFFu);  // sv102_users: unlimited
      w.u32(15);           // sv102_disc: auto-disconnect minutes
      w.u32(0);            // sv102_hidden: visible
      w.u32(240);          // sv102_announce seconds
      w.u32(3000);         // sv102_anndelta milliseconds
      w.u32(0);            // sv102_licenses
      str("C:\\");         // sv102_userpath
    }
    w.flush();
    w.u32(kWerrOk);
  }

  CallContext ctx_;
  mutable std::unique_ptr<ShareInfo> ipc_;
};

}  // namespace

std::unique_ptr<Service> makeSrvsvc(CallContext ctx) {
  return std::make_unique<Srvsvc>(std::move(ctx));
}

}  // namespace xsmb::rpc
