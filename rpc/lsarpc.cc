// lsarpc (MS-LSAD policy object, MS-LSAT name/SID translation): the calls clients use to
// learn the server's domains and to map account names to SIDs and back.
#include "rpc/service.h"
#include "common/base/unicode.h"

namespace xsmb::rpc {

namespace {

constexpr uint16_t kOpClose = 0;              // MS-LSAD 3.1.4.9.4 LsarClose
constexpr uint16_t kOpOpenPolicy = 6;         // MS-LSAD 3.1.4.4.2
constexpr uint16_t kOpQueryInfoPolicy = 7;    // MS-LSAD 3.1.4.4.4
constexpr uint16_t kOpLookupNames = 14;       // MS-LSAT 3.1.4.8
constexpr uint16_t kOpLookupSids = 15;        // MS-LSAT 3.1.4.11
constexpr uint16_t kOpOpenPolicy2 = 44;       // MS-LSAD 3.1.4.4.1
constexpr uint16_t kOpGetUserName = 45;       // MS-LSAT 3.1.4.4
constexpr uint16_t kOpQueryInfoPolicy2 = 46;  // MS-LSAD 3.1.4.4.3
constexpr uint16_t kOpLookupSids2 = 57;       // MS-LSAT 3.1.4.10
constexpr uint16_t kOpLookupNames2 = 58;      // MS-LSAT 3.1.4.7
constexpr uint16_t kOpLookupNames3 = 68;      // MS-LSAT 3.1.4.6
constexpr uint16_t kOpLookupSids3 = 76;       // MS-LSAT 3.1.4.9
constexpr uint16_t kOpLookupNames4 = 77;      // MS-LSAT 3.1.4.5

// MS-LSAD 2.2.4.1 POLICY_INFORMATION_CLASS.
constexpr uint16_t kPolicyPrimaryDomainInformation = 3;
constexpr uint16_t kPolicyAccountDomainInformation = 5;
constexpr uint16_t kPolicyDnsDomainInformation = 12;

constexpr uint32_t kMaxLookup = 1000;  // MS-LSAT 3.1.4.8: [range(0,1000)] Count

struct Translation {
  uint16_t use = kSidTypeUnknown;
  uint32_t rid = 0;
  int32_t domain_index = -1;
  std::optional<Sid> sid;
  std::string name;
};

class Lsarpc : public Service {
 public:
  explicit Lsarpc(CallContext ctx) : ctx_(std::move(ctx)), domain_sid_(domainSidOf(*ctx_.info)) {}

  CallResult call(uint16_t opnum, ByteSpan stub) override {
    NdrReader r(stub);
    NdrWriter w;
    switch (opnum) {
      case kOpClose:
        close(r, w);
        break;
      case kOpOpenPolicy:
        openPolicy(r, w, false);
        break;
      case kOpOpenPolicy2:
        openPolicy(r, w, true);
        break;
      case kOpQueryInfoPolicy:
      case kOpQueryInfoPolicy2:
        queryInfoPolicy(r, w);
        break;
      case kOpLookupNames:
        lookupNames(r, w, 1, true);
        break;
      case kOpLookupNames2:
        lookupNames(r, w, 2, true);
        break;
      case kOpLookupNames3:
        lookupNames(r, w, 3, true);
        break;
      case kOpLookupNames4:
        lookupNames(r, w, 3, false);
        break;
      case kOpLookupSids:
        lookupSids(r, w, 1, true);
        break;
      case kOpLookupSids2:
        lookupSids(r, w, 2, true);
        break;
      case kOpLookupSids3:
        lookupSids(r, w, 2, false);
        break;
      case kOpGetUserName:
        getUserName(r, w);
        break;
      default:
        return {kNcaOpRangeError, {}};
    }
    if (!r.ok()) return {kFaultBadStubData, {}};
    return {0, w.take()};
  }

 private:
  bool validHandle(const PolicyHandle& h) { return handles_.find(h) != nullptr; }

  // The [in] fields every Lookup{Names,Sids}{,2,3,4} ends with: the empty translation array
  // the client sends, LookupLevel, MappedCount and, from version 2 on, LookupOptions and
  // ClientRevision. False when the stub is malformed.
  static bool readLookupTail(NdrReader& r, int version) {
    r.u32();  // Translated{Sids,Names}.Entries
    if (r.pointer()) r.fail();
    r.u16();  // LookupLevel
    r.u32();  // MappedCount
    if (version >= 2) {
      r.u32();  // LookupOptions
      r.u32();  // ClientRevision
    }
    return r.ok();
  }

  // For a lookup naming an unknown policy handle, writes the empty reply with
  // STATUS_INVALID_HANDLE and returns false.
  bool lookupHandleOk(bool has_handle, const PolicyHandle& h, NdrWriter& w) {
    if (!has_handle || validHandle(h)) return true;
    w.pointer(false);  // ReferencedDomains
    w.u32(0);          // Translated*.Entries
    w.pointer(false);
    w.u32(0);          // MappedCount
    w.u32(STATUS_INVALID_HANDLE);
    return false;
  }

  void close(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    if (!r.ok()) return;
    bool found = handles_.remove(h);
    w.policyHandle(found ? PolicyHandle{} : h);
    w.u32(found ? STATUS_SUCCESS : STATUS_INVALID_HANDLE);
  }

  // LSAPR_OBJECT_ATTRIBUTES (MS-LSAD 2.2.9): the server ignores it (3.1.4.4.1) but it must
  // decode; RootDirectory, ObjectName and SecurityDescriptor are required to be NULL.
  static void readObjectAttributes(NdrReader& r) {
    NdrReader::DepthGuard guard(&r);
    r.u32();  // Length
    uint32_t root = r.pointer();
    uint32_t name = r.pointer();
    r.u32();  // Attributes
    uint32_t sd = r.pointer();
    uint32_t qos = r.pointer();
    if (root || name || sd) r.fail();
    if (qos) {
      r.u32();  // Length
      r.u16();  // ImpersonationLevel
      r.u8();   // ContextTrackingMode
      r.u8();   // EffectiveOnly
    }
  }

  void openPolicy(NdrReader& r, NdrWriter& w, bool v2) {
    if (r.pointer()) {
      if (v2) {
        r.cvString();
      } else {
        r.u16();  // a single wchar_t (MS-LSAD 3.1.4.4.2)
      }
    }
    readObjectAttributes(r);
    r.u32();  // DesiredAccess: every caller gets the same read-only view
    if (!r.ok()) return;
    auto h = handles_.add(0, 'L');
    w.policyHandle(h.value_or(PolicyHandle{}));
    w.u32(h ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES);
  }

  void queryInfoPolicy(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint16_t cls = r.u16();
    if (!r.ok()) return;
    if (!validHandle(h)) {
      w.pointer(false);
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    const ServerInfo& info = *ctx_.info;
    if (cls != kPolicyPrimaryDomainInformation && cls != kPolicyAccountDomainInformation &&
        cls != kPolicyDnsDomainInformation) {
      w.pointer(false);
      w.u32(STATUS_INVALID_PARAMETER);
      return;
    }
    w.pointer(true);
    w.u16(cls);  // union discriminant
    Sid sid = domain_sid_;
    if (cls == kPolicyAccountDomainInformation) {
      // The local account domain: the server's NetBIOS name and SID.
      w.unicodeString(info.netbios_name);
      w.deferredPointer(true, [sid](NdrWriter& w2) { w2.sid(sid); });
    } else if (cls == kPolicyPrimaryDomainInformation) {
      // A standalone server's primary domain is its workgroup, which has no SID.
      w.unicodeString(info.workgroup);
      w.deferredPointer(false, nullptr);
    } else {
      w.unicodeString(info.workgroup);  // Name
      w.unicodeString("");              // DnsDomainName
      w.unicodeString("");              // DnsForestName
      w.u32(0);                         // DomainGuid
      w.zeros(12);
      w.deferredPointer(false, nullptr);
    }
    w.flush();
    w.u32(STATUS_SUCCESS);
  }

  bool isOurDomain(std::string_view d) const {
    const ServerInfo& info = *ctx_.info;
    return d.empty() || equalsIgnoreCase(d, info.netbios_name) ||
           equalsIgnoreCase(d, info.workgroup);
  }

  Translation translateName(std::string_view full) const {
    const ServerInfo& info = *ctx_.info;
    auto [domain, name] = splitAccountName(full);
    Translation t;
    if (!isOurDomain(domain)) return t;
    if (domain.empty() && equalsIgnoreCase(name, info.netbios_name)) {
      t.use = kSidTypeDomain;
      t.rid = 0xFFFFFFFF;  // MS-LSAT 2.2.14: a domain has no RID; clients then use the domain SID
      t.domain_index = 0;
      t.sid = domain_sid_;
      return t;
    }
    if (const UserInfo* u = findUserByName(info, name)) {
      t.use = kSidTypeUser;
      t.rid = u->rid;
      t.domain_index = 0;
      t.sid = domain_sid_.withRid(u->rid);
    }
    return t;
  }

  Translation translateSid(const Sid& sid) const {
    const ServerInfo& info = *ctx_.info;
    Translation t;
    uint32_t rid = 0;
    if (sid == domain_sid_) {
      t.use = kSidTypeDomain;
      t.domain_index = 0;
      t.name = info.netbios_name;
    } else if (sid.isInDomain(domain_sid_, &rid)) {
      if (const UserInfo* u = findUserByRid(info, rid)) {
        t.use = kSidTypeUser;
        t.domain_index = 0;
        t.name = u->name;
      } else if (rid == kDomainUsersRid) {
        t.use = kSidTypeGroup;
        t.domain_index = 0;
        t.name = "None";  // the name Samba gives a standalone server's Domain Users
      }
    }
    if (t.use == kSidTypeUnknown) t.name = sid.toString();
    return t;
  }

  // [out] PLSAPR_REFERENCED_DOMAIN_LIST* (MS-LSAT 2.2.12): our account domain when anything
  // was mapped, else an empty list.
  void writeReferencedDomains(NdrWriter& w, bool any_mapped) const {
    std::string name = ctx_.info->netbios_name;
    Sid sid = domain_sid_;
    w.pointer(true);
    w.u32(any_mapped ? 1 : 0);
    w.deferredPointer(any_mapped, [name, sid](NdrWriter& w2) {
      w2.u32(1);
      w2.unicodeString(name);
      w2.deferredPointer(true, [sid](NdrWriter& w3) { w3.sid(sid); });
    });
    w.u32(32);  // MaxEntries, as Windows reports
    w.flush();
  }

  static uint32_t mappingStatus(uint32_t mapped, uint32_t total) {
    if (mapped == total) return STATUS_SUCCESS;
    return mapped == 0 ? STATUS_NONE_MAPPED : STATUS_SOME_NOT_MAPPED;
  }

  // LsarLookupNames (v1), LookupNames2 (v2), LookupNames3/4 (v3): the [in] TranslatedSids
  // must be empty, as every client sends it.
  void lookupNames(NdrReader& r, NdrWriter& w, int version, bool has_handle) {
    PolicyHandle h;
    if (has_handle) h = r.policyHandle();
    uint32_t count = r.u32();
    if (count > kMaxLookup) r.fail();
    uint32_t max = r.conformance(8, kMaxLookup);
    if (max != count) r.fail();
    std::vector<UnicodeStringHeader> headers;
    for (uint32_t i = 0; i < count && r.ok(); ++i) headers.push_back(readUnicodeStringHeader(r));
    std::vector<std::string> names;
    for (const auto& hd : headers) {
      if (!r.ok()) break;
      names.push_back(readUnicodeStringBody(r, hd));
    }
    if (!readLookupTail(r, version) || !lookupHandleOk(has_handle, h, w)) return;
    std::vector<Translation> ts;
    uint32_t mapped = 0;
    for (const auto& n : names) {
      ts.push_back(translateName(n));
      if (ts.back().use != kSidTypeUnknown) ++mapped;
    }
    writeReferencedDomains(w, mapped > 0);
    w.u32(count);
    w.deferredPointer(count > 0, [ts, version](NdrWriter& w2) {
      w2.u32(static_cast<uint32_t>(ts.size()));
      for (const auto& t : ts) {
        w2.u16(t.use);
        if (version == 3) {
          std::optional<Sid> sid = t.sid;
          w2.deferredPointer(sid.has_value(), [sid](NdrWriter& w3) { w3.sid(*sid); });
        } else {
          w2.u32(t.rid);
        }
        w2.u32(static_cast<uint32_t>(t.domain_index));
        if (version >= 2) w2.u32(0);  // Flags
      }
    });
    w.flush();
    w.u32(mapped);
    w.u32(mappingStatus(mapped, count));
  }

  // LsarLookupSids (v1), LookupSids2/3 (v2 names).
  void lookupSids(NdrReader& r, NdrWriter& w, int version, bool has_handle) {
    PolicyHandle h;
    if (has_handle) h = r.policyHandle();
    uint32_t entries = r.u32();
    if (entries > kMaxLookup) r.fail();
    std::vector<Sid> sids;
    if (r.pointer()) {
      uint32_t max = r.conformance(4, kMaxLookup);
      if (max != entries) r.fail();
      std::vector<bool> present;
      for (uint32_t i = 0; i < max && r.ok(); ++i) present.push_back(r.pointer() != 0);
      for (bool p : present) {
        if (!r.ok()) break;
        if (!p) {
          r.fail();  // MS-LSAT 2.2.17: every entry carries a SID
          break;
        }
        sids.push_back(r.sid());
      }
    } else if (entries != 0) {
      r.fail();
    }
    if (!readLookupTail(r, version) || !lookupHandleOk(has_handle, h, w)) return;
    std::vector<Translation> ts;
    uint32_t mapped = 0;
    for (const auto& s : sids) {
      ts.push_back(translateSid(s));
      if (ts.back().use != kSidTypeUnknown) ++mapped;
    }
    writeReferencedDomains(w, mapped > 0);
    auto n = static_cast<uint32_t>(ts.size());
    w.u32(n);
    w.deferredPointer(n > 0, [ts, version](NdrWriter& w2) {
      w2.u32(static_cast<uint32_t>(ts.size()));
      for (const auto& t : ts) {
        w2.u16(t.use);
        w2.unicodeString(t.name);
        w2.u32(static_cast<uint32_t>(t.domain_index));
        if (version >= 2) w2.u32(0);  // Flags
      }
    });
    w.flush();
    w.u32(mapped);
    w.u32(mappingStatus(mapped, n));
  }

  // MS-LSAT 3.1.4.4 LsarGetUserName: the caller's account and its authority (domain).
  void getUserName(NdrReader& r, NdrWriter& w) {
    if (r.pointer()) r.cvString();  // SystemName
    // [in,out] PRPC_UNICODE_STRING* UserName: the inner pointer (a client may send a buffer).
    if (r.pointer()) readUnicodeStringBody(r, readUnicodeStringHeader(r));
    bool has_domain = r.pointer() != 0;
    if (has_domain && r.pointer()) readUnicodeStringBody(r, readUnicodeStringHeader(r));
    if (!r.ok()) return;
    const CallerInfo& c = ctx_.caller;
    std::string user = c.user.empty() || c.guest ? std::string("Guest") : c.user;
    w.pointer(true);
    w.unicodeString(user);
    w.flush();
    w.pointer(has_domain);
    if (has_domain) {
      w.pointer(true);
      w.unicodeString(ctx_.info->netbios_name);
      w.flush();
    }
    w.u32(STATUS_SUCCESS);
  }

  CallContext ctx_;
  Sid domain_sid_;
  HandleTable<int> handles_;
};

}  // namespace

std::unique_ptr<Service> makeLsarpc(CallContext ctx) {
  return std::make_unique<Lsarpc>(std::move(ctx));
}

}  // namespace xsmb::rpc
