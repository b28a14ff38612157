// samr (MS-SAMR): the account database as clients browse it: server -> domain -> user
// handles, enumeration, name lookup and the user information rpcclient shows.
#include "rpc/service.h"
#include "common/base/unicode.h"

namespace xsmb::rpc {

namespace {

constexpr uint16_t kOpConnect = 0;              // MS-SAMR 3.1.5.1.4
constexpr uint16_t kOpClose = 1;                // 3.1.5.13.1 SamrCloseHandle
constexpr uint16_t kOpLookupDomain = 5;         // 3.1.5.11.1 SamrLookupDomainInSamServer
constexpr uint16_t kOpEnumDomains = 6;          // 3.1.5.2.1 SamrEnumerateDomainsInSamServer
constexpr uint16_t kOpOpenDomain = 7;           // 3.1.5.1.5
constexpr uint16_t kOpQueryDomainInfo = 8;      // 3.1.5.5.2
constexpr uint16_t kOpEnumDomainUsers = 13;     // 3.1.5.2.5
constexpr uint16_t kOpGetAliasMembership = 16;  // 3.1.5.9.2
constexpr uint16_t kOpLookupNames = 17;         // 3.1.5.11.2 SamrLookupNamesInDomain
constexpr uint16_t kOpOpenUser = 34;            // 3.1.5.1.9
constexpr uint16_t kOpQueryUserInfo = 36;       // 3.1.5.5.6
constexpr uint16_t kOpGetGroupsForUser = 39;    // 3.1.5.9.1
constexpr uint16_t kOpQueryDomainInfo2 = 46;    // 3.1.5.5.1
constexpr uint16_t kOpQueryUserInfo2 = 47;      // 3.1.5.5.5
constexpr uint16_t kOpConnect2 = 57;            // 3.1.5.1.3
constexpr uint16_t kOpConnect4 = 62;            // 3.1.5.1.2
constexpr uint16_t kOpConnect5 = 64;            // 3.1.5.1.1

constexpr uint32_t kMaxNames = 1000;                 // [range(0,1000)]
constexpr uint32_t kUserNormalAccount = 0x00000010;  // MS-SAMR 2.2.1.12
constexpr uint32_t kUserDontExpirePassword = 0x00000200;
constexpr uint32_t kSeGroupDefaultAttributes =
    0x00000007;  // mandatory, enabled by default, enabled

struct SamHandle {
  enum class Kind { kServer, kDomain, kUser } kind = Kind::kServer;
  bool builtin = false;  // domain handle of the Builtin domain (S-1-5-32)
  uint32_t rid = 0;      // user handles
};

class Samr : public Service {
 public:
  explicit Samr(CallContext ctx)
      : ctx_(std::move(ctx)),
        domain_sid_(domainSidOf(*ctx_.info)),
        builtin_sid_(*Sid::parse("S-1-5-32")) {}

  CallResult call(uint16_t opnum, ByteSpan stub) override {
    NdrReader r(stub);
    NdrWriter w;
    switch (opnum) {
      case kOpConnect:
        connect(r, w, opnum);
        break;
      case kOpConnect2:
        connect(r, w, opnum);
        break;
      case kOpConnect4:
        connect(r, w, opnum);
        break;
      case kOpConnect5:
        connect(r, w, opnum);
        break;
      case kOpClose:
        close(r, w);
        break;
      case kOpLookupDomain:
        lookupDomain(r, w);
        break;
      case kOpEnumDomains:
        enumDomains(r, w);
        break;
      case kOpOpenDomain:
        openDomain(r, w);
        break;
      case kOpQueryDomainInfo:
      case kOpQueryDomainInfo2:
        queryDomainInfo(r, w);
        break;
      case kOpEnumDomainUsers:
        enumDomainUsers(r, w);
        break;
      case kOpGetAliasMembership:
        getAliasMembership(r, w);
        break;
      case kOpLookupNames:
        lookupNames(r, w);
        break;
      case kOpOpenUser:
        openUser(r, w);
        break;
      case kOpQueryUserInfo:
      case kOpQueryUserInfo2:
        queryUserInfo(r, w);
        break;
      case kOpGetGroupsForUser:
        getGroupsForUser(r, w);
        break;
      default:
        return {kNcaOpRangeError, {}};
    }
    if (!r.ok()) return {kFaultBadStubData, {}};
    return {0, w.take()};
  }

 private:
  SamHandle* find(const PolicyHandle& h, SamHandle::Kind kind) {
    SamHandle* s = handles_.find(h);
    return s && s->kind == kind ? s : nullptr;
  }

  void addHandle(NdrWriter& w, SamHandle state) {
    auto h = handles_.add(state, 'S');
    w.policyHandle(h.value_or(PolicyHandle{}));
    w.u32(h ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES);
  }

  void connect(NdrReader& r, NdrWriter& w, uint16_t opnum) {
    if (r.pointer()) {
      if (opnum == kOpConnect) {
        r.u16();  // PSAMPR_SERVER_NAME is a single wchar_t here
      } else {
        r.cvString();
      }
    }
    if (opnum == kOpConnect4) r.u32();  // ClientRevision
    r.u32();                            // DesiredAccess
    if (opnum == kOpConnect5) {
      uint32_t in_version = r.u32();
      uint32_t arm = r.u32();
      if (in_version != 1 || arm != 1) r.fail();
      r.u32();  // Revision
      r.u32();  // SupportedFeatures
    }
    if (!r.ok()) return;
    if (opnum == kOpConnect5) {
      w.u32(1);  // OutVersion
      w.u32(1);  // union discriminant
      w.u32(3);  // SAMPR_REVISION_INFO_V1.Revision (MS-SAMR 2.2.7.15)
      w.u32(0);  // SupportedFeatures
    }
    // "restrict anonymous" 1 or 2: no SAM server handle, so no enumeration or lookup, for a
    // guest or anonymous caller (as Samba's _samr_Connect*).
    if (anonymousRestricted(ctx_.caller)) {
      w.policyHandle(PolicyHandle{});
      w.u32(STATUS_ACCESS_DENIED);
      return;
    }
    addHandle(w, SamHandle{SamHandle::Kind::kServer});
  }

  void close(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    if (!r.ok()) return;
    bool found = handles_.remove(h);
    w.policyHandle(found ? PolicyHandle{} : h);
    w.u32(found ? STATUS_SUCCESS : STATUS_INVALID_HANDLE);
  }

  std::optional<Sid> domainByName(std::string_view name) const {
    if (equalsIgnoreCase(name, ctx_.info->netbios_name)) return domain_sid_;
    if (equalsIgnoreCase(name, "Builtin")) return builtin_sid_;
    return std::nullopt;
  }

  void lookupDomain(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    std::string name = readUnicodeStringBody(r, readUnicodeStringHeader(r));
    if (!r.ok()) return;
    std::optional<Sid> sid;
    uint32_t status = STATUS_INVALID_HANDLE;
    if (find(h, SamHandle::Kind::kServer)) {
      sid = domainByName(name);
      status = sid ? STATUS_SUCCESS : STATUS_NO_SUCH_DOMAIN;
    }
    w.pointer(sid.has_value());
    if (sid) w.sid(*sid);
    w.u32(status);
  }

  // SAMPR_ENUMERATION_BUFFER (MS-SAMR 2.2.7.10) through a [ref] to a [unique] pointer.
  static void writeEnumBuffer(NdrWriter& w,
                              const std::vector<std::pair<uint32_t, std::string>>& entries) {
    w.pointer(true);
    w.u32(static_cast<uint32_t>(entries.size()));
    w.deferredPointer(!entries.empty(), [entries](NdrWriter& w2) {
      w2.u32(static_cast<uint32_t>(entries.size()));
      for (const auto& [rid, name] : entries) {
        w2.u32(rid);
        w2.unicodeString(name);
      }
    });
    w.flush();
  }

  void enumDomains(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint32_t context = r.u32();
    r.u32();  // PreferedMaximumLength
    if (!r.ok()) return;
    if (!find(h, SamHandle::Kind::kServer)) {
      w.u32(context);
      w.pointer(false);
      w.u32(0);
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    std::vector<std::pair<uint32_t, std::string>> all = {{0, ctx_.info->netbios_name},
                                                         {0, "Builtin"}};
    std::vector<std::pair<uint32_t, std::string>> page;
    for (size_t i = context; i < all.size(); ++i) page.push_back(all[i]);
    w.u32(static_cast<uint32_t>(all.size()));
    writeEnumBuffer(w, page);
    w.u32(static_cast<uint32_t>(page.size()));
    w.u32(STATUS_SUCCESS);
  }

  void openDomain(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    r.u32();  // DesiredAccess
    Sid sid = r.sid();
    if (!r.ok()) return;
    if (!find(h, SamHandle::Kind::kServer)) {
      w.policyHandle({});
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    if (sid != domain_sid_ && sid != builtin_sid_) {
      w.policyHandle({});
      w.u32(STATUS_NO_SUCH_DOMAIN);
      return;
    }
    addHandle(w, SamHandle{SamHandle::Kind::kDomain, sid == builtin_sid_});
  }

  static void oldLargeInteger(NdrWriter& w, int64_t v) {
    w.u32(static_cast<uint32_t>(v));
    w.u32(static_cast<uint32_t>(static_cast<uint64_t>(v) >> 32));
  }

  void queryDomainInfo(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint16_t cls = r.u16();
    if (!r.ok()) return;
    SamHandle* d = find(h, SamHandle::Kind::kDomain);
    if (!d) {
      w.pointer(false);
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    if (cls != 1 && cls != 2 && cls != 3 && cls != 5 && cls != 7 && cls != 12) {
      w.pointer(false);
      w.u32(STATUS_INVALID_INFO_CLASS);
      return;
    }
    const ServerInfo& info = *ctx_.info;
    std::string name = d->builtin ? "Builtin" : info.netbios_name;
    uint32_t users = d->builtin ? 0 : static_cast<uint32_t>(info.users.size());
    constexpr int64_t kNever = INT64_MIN;  // "never" for relative times (MS-SAMR 2.2.4.1)
    w.pointer(true);
    w.u16(cls);
    switch (cls) {
      case 1:                        // DOMAIN_PASSWORD_INFORMATION
        w.u16(0);                    // MinPasswordLength
        w.u16(0);                    // PasswordHistoryLength
        w.u32(0);                    // PasswordProperties
        oldLargeInteger(w, kNever);  // MaxPasswordAge
        oldLargeInteger(w, 0);       // MinPasswordAge
        break;
      case 2:                                 // SAMPR_DOMAIN_GENERAL_INFORMATION
        oldLargeInteger(w, kNever);           // ForceLogoff
        w.unicodeString(info.server_string);  // OemInformation
        w.unicodeString(name);
        w.unicodeString("");    // ReplicaSourceNodeName
        oldLargeInteger(w, 1);  // DomainModifiedCount
        w.u32(1);               // DomainServerState: enabled
        w.u32(3);               // DomainServerRole: primary
        w.u8(0);                // UasCompatibilityRequired
        w.u32(users);
        w.u32(0);  // GroupCount
        w.u32(0);  // AliasCount
        break;
      case 3:  // DOMAIN_LOGOFF_INFORMATION
        oldLargeInteger(w, kNever);
        break;
      case 5:  // SAMPR_DOMAIN_NAME_INFORMATION
        w.unicodeString(name);
        break;
      case 7:  // DOMAIN_SERVER_ROLE_INFORMATION
        w.u32(3);
        break;
      case 12:                                         // DOMAIN_LOCKOUT_INFORMATION
        w.u64(static_cast<uint64_t>(-18000000000LL));  // LockoutDuration: 30 min
        w.u64(static_cast<uint64_t>(-18000000000LL));  // LockoutObservationWindow
        w.u16(0);                                      // LockoutThreshold: never
        break;
    }
    w.flush();
    w.u32(STATUS_SUCCESS);
  }

  void enumDomainUsers(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint32_t context = r.u32();
    r.u32();  // UserAccountControl filter: every account is a normal account
    r.u32();  // PreferedMaximumLength: everything in one reply
    if (!r.ok()) return;
    SamHandle* d = find(h, SamHandle::Kind::kDomain);
    if (!d) {
      w.u32(context);
      w.pointer(false);
      w.u32(0);
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    std::vector<std::pair<uint32_t, std::string>> page;
    const auto& users = ctx_.info->users;
    if (!d->builtin) {
      for (size_t i = context; i < users.size(); ++i)
        page.emplace_back(users[i].rid, users[i].name);
    }
    w.u32(static_cast<uint32_t>(d->builtin ? 0 : users.size()));
    writeEnumBuffer(w, page);
    w.u32(static_cast<uint32_t>(page.size()));
    w.u32(STATUS_SUCCESS);
  }

  void getAliasMembership(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint32_t count = r.u32();
    if (count > kMaxNames) r.fail();
    if (r.pointer()) {
      uint32_t max = r.conformance(4, kMaxNames);
      if (max != count) r.fail();
      std::vector<bool> present;
      for (uint32_t i = 0; i < max && r.ok(); ++i) present.push_back(r.pointer() != 0);
      for (bool p : present) {
        if (p && r.ok()) r.sid();
      }
    }
    if (!r.ok()) return;
    // No aliases exist: every SID is a member of none (SAMPR_ULONG_ARRAY, empty).
    w.u32(0);
    w.pointer(false);
    w.u32(find(h, SamHandle::Kind::kDomain) ? STATUS_SUCCESS : STATUS_INVALID_HANDLE);
  }

  static void writeUlongArray(NdrWriter& w, const std::vector<uint32_t>& v) {
    w.u32(static_cast<uint32_t>(v.size()));
    w.deferredPointer(!v.empty(), [v](NdrWriter& w2) {
      w2.u32(static_cast<uint32_t>(v.size()));
      for (uint32_t x : v) w2.u32(x);
    });
    w.flush();
  }

  void lookupNames(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint32_t count = r.u32();
    // [size_is(1000), length_is(Count)] RPC_UNICODE_STRING Names[*]
    uint32_t max = r.conformance(0, kMaxNames);
    NdrReader::Variance v = r.variance(max, 8);
    if (count > kMaxNames || v.offset != 0 || v.actual != count) r.fail();
    std::vector<UnicodeStringHeader> headers;
    for (uint32_t i = 0; i < v.actual && r.ok(); ++i) headers.push_back(readUnicodeStringHeader(r));
    std::vector<std::string> names;
    for (const auto& hd : headers) {
      if (!r.ok()) break;
      names.push_back(readUnicodeStringBody(r, hd));
    }
    if (!r.ok()) return;
    SamHandle* d = find(h, SamHandle::Kind::kDomain);
    if (!d) {
      writeUlongArray(w, {});
      writeUlongArray(w, {});
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    std::vector<uint32_t> rids, uses;
    uint32_t mapped = 0;
    for (const auto& n : names) {
      const UserInfo* u = d->builtin ? nullptr : findUserByName(*ctx_.info, n);
      rids.push_back(u ? u->rid : 0);
      uses.push_back(u ? kSidTypeUser : kSidTypeUnknown);
      if (u) ++mapped;
    }
    writeUlongArray(w, rids);
    writeUlongArray(w, uses);
    uint32_t status = STATUS_SUCCESS;
    if (mapped < names.size()) status = mapped == 0 ? STATUS_NONE_MAPPED : STATUS_SOME_NOT_MAPPED;
    w.u32(status);
  }

  void openUser(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    r.u32();  // DesiredAccess
    uint32_t rid = r.u32();
    if (!r.ok()) return;
    SamHandle* d = find(h, SamHandle::Kind::kDomain);
    if (!d) {
      w.policyHandle({});
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    if (d->builtin || !findUserByRid(*ctx_.info, rid)) {
      w.policyHandle({});
      w.u32(STATUS_NO_SUCH_USER);
      return;
    }
    addHandle(w, SamHandle{SamHandle::Kind::kUser, false, rid});
  }

  // SAMPR_USER_ALL_INFORMATION (MS-SAMR 2.2.7.6), what rpcclient's queryuser shows.
  void writeUserAll(NdrWriter& w, const UserInfo& u) {
    constexpr int64_t kForever = INT64_MAX;
    oldLargeInteger(w, 0);         // LastLogon
    oldLargeInteger(w, 0);         // LastLogoff
    oldLargeInteger(w, 0);         // PasswordLastSet
    oldLargeInteger(w, kForever);  // AccountExpires
    oldLargeInteger(w, 0);         // PasswordCanChange
    oldLargeInteger(w, kForever);  // PasswordMustChange
    w.unicodeString(u.name);
    w.unicodeString(u.full_name);
    for (int i = 0; i < 8; ++i) {
      // HomeDirectory, HomeDirectoryDrive, ScriptPath, ProfilePath, AdminComment,
      // WorkStations, UserComment, Parameters
      w.unicodeString("", true);
    }
    for (int i = 0; i < 2; ++i) {  // LmOwfPassword, NtOwfPassword: never disclosed
      w.u16(0);
      w.u16(0);
      w.pointer(false);
    }
    w.unicodeString("", true);  // PrivateData
    w.u32(0);                   // SecurityDescriptor.Length
    w.pointer(false);
    w.u32(u.rid);
    w.u32(kDomainUsersRid);  // PrimaryGroupId
    w.u32(kUserNormalAccount | kUserDontExpirePassword);
    w.u32(0x00FFFFFF);  // WhichFields: all the fields above are meaningful
    w.u16(168);         // LogonHours.UnitsPerWeek: hours
    w.deferredPointer(true, [](NdrWriter& w2) {
      w2.u32(1260);
      w2.u32(0);
      w2.u32(21);
      for (int i = 0; i < 21; ++i) w2.u8(0xFF);  // every hour allowed
    });
    w.u16(0);  // BadPasswordCount
    w.u16(0);  // LogonCount
    w.u16(0);  // CountryCode
    w.u16(0);  // CodePage
    w.u8(0);   // LmPasswordPresent
    w.u8(0);   // NtPasswordPresent
    w.u8(0);   // PasswordExpired
    w.u8(0);   // PrivateDataSensitive
  }

  void queryUserInfo(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    uint16_t cls = r.u16();
    if (!r.ok()) return;
    SamHandle* uh = find(h, SamHandle::Kind::kUser);
    const UserInfo* u = uh ? findUserByRid(*ctx_.info, uh->rid) : nullptr;
    if (!u) {
      w.pointer(false);
      w.u32(uh ? STATUS_NO_SUCH_USER : STATUS_INVALID_HANDLE);
      return;
    }
    if (cls != 1 && cls != 6 && cls != 7 && cls != 8 && cls != 16 && cls != 21) {
      w.pointer(false);
      w.u32(STATUS_INVALID_INFO_CLASS);
      return;
    }
    w.pointer(true);
    w.u16(cls);
    switch (cls) {
      case 1:  // SAMPR_USER_GENERAL_INFORMATION
        w.unicodeString(u->name);
        w.unicodeString(u->full_name);
        w.u32(kDomainUsersRid);
        w.unicodeString("");  // AdminComment
        w.unicodeString("");  // UserComment
        break;
      case 6:  // SAMPR_USER_NAME_INFORMATION
        w.unicodeString(u->name);
        w.unicodeString(u->full_name);
        break;
      case 7:  // SAMPR_USER_A_NAME_INFORMATION
        w.unicodeString(u->name);
        break;
      case 8:  // SAMPR_USER_F_NAME_INFORMATION
        w.unicodeString(u->full_name);
        break;
      case 16:  // USER_CONTROL_INFORMATION
        w.u32(kUserNormalAccount | kUserDontExpirePassword);
        break;
      case 21:
        writeUserAll(w, *u);
        break;
    }
    w.flush();
    w.u32(STATUS_SUCCESS);
  }

  void getGroupsForUser(NdrReader& r, NdrWriter& w) {
    PolicyHandle h = r.policyHandle();
    if (!r.ok()) return;
    if (!find(h, SamHandle::Kind::kUser)) {
      w.pointer(false);
      w.u32(STATUS_INVALID_HANDLE);
      return;
    }
    // SAMPR_GET_GROUPS_BUFFER: every account is in Domain Users.
    w.pointer(true);
    w.u32(1);
    w.deferredPointer(true, [](NdrWriter& w2) {
      w2.u32(1);
      w2.u32(kDomainUsersRid);
      w2.u32(kSeGroupDefaultAttributes);
    });
    w.flush();
    w.u32(STATUS_SUCCESS);
  }

  CallContext ctx_;
  Sid domain_sid_;
  Sid builtin_sid_;
  HandleTable<SamHandle> handles_;
};

}  // namespace

std::unique_ptr<Service> makeSamr(CallContext ctx) {
  return std::make_unique<Samr>(std::move(ctx));
}

}  // namespace xsmb::rpc
