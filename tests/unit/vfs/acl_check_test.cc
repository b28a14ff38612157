// The access check (MS-DTYP 2.5.3.2), generic mapping, inheritance (MS-DTYP 2.5.3.4) and the
// SET_INFO merge rules, on descriptors written out by hand; the expected masks were worked out
// from the spec's algorithm, and the inheritance table is the one smbtorture's
// smb2.acls.INHERITANCE checks against Windows.
#include <gtest/gtest.h>

#include "common/smb2/constants.h"
#include "common/smb2/security_constants.h"
#include "server/vfs/acl_check.h"

namespace xsmb::vfs::acl {
namespace {

using namespace xsmb::smb2;

constexpr uint8_t OI = OBJECT_INHERIT_ACE, CI = CONTAINER_INHERIT_ACE,
                  NP = NO_PROPAGATE_INHERIT_ACE, IO = INHERIT_ONLY_ACE;
constexpr uint8_t kAllow = ACCESS_ALLOWED_ACE_TYPE, kDeny = ACCESS_DENIED_ACE_TYPE;

const Sid kUser = unixUserSid(1000);
const Sid kGroup = unixGroupSid(100);
const Sid kOther = unixUserSid(2000);

AccessToken userToken() { return tokenForUnixIdentity(1000, 100, {100, 300}, false); }

SecurityDescriptor withDacl(std::vector<Ace> aces, const Sid& owner = kOther) {
  SecurityDescriptor sd;
  sd.control = SE_SELF_RELATIVE | SE_DACL_PRESENT;
  sd.owner = owner;
  sd.group = kGroup;
  sd.dacl = Acl{2, std::move(aces)};
  return sd;
}

Ace ace(uint8_t type, uint8_t flags, uint32_t mask, const Sid& sid) {
  return Ace{type, flags, mask, sid, std::nullopt};
}

TEST(AccessToken, HoldsTheUnixSidsEveryoneAndAuthenticatedUsers) {
  AccessToken t = userToken();
  EXPECT_EQ(t.user, kUser);
  EXPECT_TRUE(t.holds(unixGroupSid(300)));
  EXPECT_TRUE(t.holds(everyoneSid()));
  EXPECT_TRUE(t.holds(authenticatedUsersSid()));
  EXPECT_FALSE(t.holds(kOther));
  EXPECT_FALSE(tokenForUnixIdentity(65534, 65534, {}, true).holds(authenticatedUsersSid()));
}

TEST(GenericMapping, FileRights) {
  struct {
    uint32_t in, out;
  } cases[] = {
      {GENERIC_READ, 0x00120089},     {GENERIC_WRITE, 0x00120116},
      {GENERIC_EXECUTE, 0x001200a0},  {GENERIC_ALL, 0x001f01ff},
      {GENERIC_READ | DELETE, 0x00130089}, {FILE_READ_DATA, FILE_READ_DATA},
  };
  for (auto c : cases) EXPECT_EQ(mapGenericFileRights(c.in), c.out) << std::hex << c.in;
}

TEST(GrantedAccess, Table) {
  struct Case {
    const char* description;
    SecurityDescriptor sd;
    uint32_t granted;
  } cases[] = {
      {"allow to a group of the user", withDacl({ace(kAllow, 0, FILE_READ_DATA, kGroup)}),
       FILE_READ_DATA},
      {"allow to someone else", withDacl({ace(kAllow, 0, FILE_READ_DATA, kOther)}), 0},
      {"deny first wins", withDacl({ace(kDeny, 0, FILE_WRITE_DATA, everyoneSid()),
                                    ace(kAllow, 0, FILE_READ_DATA | FILE_WRITE_DATA, kUser)}),
       FILE_READ_DATA},
      {"allow first wins", withDacl({ace(kAllow, 0, FILE_WRITE_DATA, kUser),
                                     ace(kDeny, 0, FILE_WRITE_DATA, everyoneSid())}),
       FILE_WRITE_DATA},
      {"inherit-only ACEs do not apply", withDacl({ace(kAllow, OI | IO, FILE_READ_DATA, kUser)}),
       0},
      {"generic rights in an ACE are mapped", withDacl({ace(kAllow, 0, GENERIC_READ, kUser)}),
       0x00120089},
      {"CREATOR OWNER never matches a user", withDacl({ace(kAllow, 0, GENERIC_ALL,
                                                           creatorOwnerSid())}),
       0},
      {"owner: READ_CONTROL and WRITE_DAC implied",
       withDacl({ace(kAllow, 0, FILE_WRITE_DATA, kUser)}, kUser),
       FILE_WRITE_DATA | READ_CONTROL | WRITE_DAC},
      {"owner: an empty DACL still leaves the implied rights", withDacl({}, kUser),
       READ_CONTROL | WRITE_DAC},
      {"owner: OWNER RIGHTS replaces the implied rights",
       withDacl({ace(kAllow, 0, FILE_READ_DATA, ownerRightsSid())}, kUser), FILE_READ_DATA},
      {"empty DACL: nothing", withDacl({}), 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(grantedAccess(c.sd, userToken(), kOther), c.granted) << c.description;
  }
  SecurityDescriptor null_dacl = withDacl({});
  null_dacl.dacl.reset();
  EXPECT_EQ(grantedAccess(null_dacl, userToken(), kOther), FILE_ALL_ACCESS) << "NULL DACL";
  SecurityDescriptor no_owner = withDacl({}, kUser);
  no_owner.owner.reset();
  EXPECT_EQ(grantedAccess(no_owner, userToken(), kUser), READ_CONTROL | WRITE_DAC)
      << "owner taken from the file when the descriptor has none";
}

// smb2.acls.INHERITANCE's table: the parent's ACE {CREATOR OWNER, FILE_WRITE_DATA, flags} and
// what a new file and a new directory get. 0xff = nothing inherited (the default DACL).
TEST(CreateDescriptor, InheritanceFlagsTable) {
  constexpr int kNone = 0xff;
  struct Case {
    uint8_t parent, file, dir_first, dir_second;
  } cases[] = {
      {0, kNone, kNone, kNone},
      {OI, 0, OI | IO, kNone},  // the directory holds it only to pass on (CREATOR OWNER kept)
      {CI, kNone, 0, CI | IO},  // split: effective for the owner, inheritable copy
      {OI | CI, 0, 0, OI | CI | IO},
      {NP, kNone, kNone, kNone},
      {NP | OI, 0, kNone, kNone},
      {NP | CI, kNone, 0, kNone},
      {NP | CI | OI, 0, 0, kNone},
      {IO, kNone, kNone, kNone},
      {IO | OI, 0, OI | IO, kNone},
      {IO | CI, kNone, 0, CI | IO},
      {IO | CI | OI, 0, 0, CI | OI | IO},
      {IO | NP | OI, 0, kNone, kNone},
      {IO | NP | CI, kNone, 0, kNone},
  };
  AccessToken token = userToken();
  for (const Case& c : cases) {
    SecurityDescriptor parent =
        withDacl({ace(kAllow, c.parent, FILE_WRITE_DATA, creatorOwnerSid()),
                  ace(kAllow, 0, FILE_ALL_ACCESS, everyoneSid())});
    SecurityDescriptor file = createDescriptor(&parent, nullptr, token, false);
    SecurityDescriptor dir = createDescriptor(&parent, nullptr, token, true);
    EXPECT_EQ(*file.owner, kUser);
    EXPECT_EQ(*file.group, token.primary_group);
    if (c.file == kNone) {
      ASSERT_EQ(file.dacl->aces.size(), 2u) << int(c.parent);  // owner and SYSTEM, full
      EXPECT_EQ(file.dacl->aces[0], ace(kAllow, 0, FILE_ALL_ACCESS, kUser));
      EXPECT_EQ(file.dacl->aces[1], ace(kAllow, 0, FILE_ALL_ACCESS, localSystemSid()));
    } else {
      ASSERT_EQ(file.dacl->aces.size(), 1u) << int(c.parent);
      EXPECT_EQ(file.dacl->aces[0], ace(kAllow, c.file, FILE_WRITE_DATA, kUser));
    }
    if (c.dir_first == kNone) {
      EXPECT_EQ(dir.dacl->aces[0], ace(kAllow, 0, FILE_ALL_ACCESS, kUser)) << int(c.parent);
      continue;
    }
    size_t n = c.dir_second == kNone ? 1 : 2;
    ASSERT_EQ(dir.dacl->aces.size(), n) << int(c.parent);
    const Sid& first = (c.dir_first & IO) ? creatorOwnerSid() : kUser;
    EXPECT_EQ(dir.dacl->aces[0], ace(kAllow, c.dir_first, FILE_WRITE_DATA, first))
        << int(c.parent);
    if (n == 2) {
      EXPECT_EQ(dir.dacl->aces[1],
                ace(kAllow, c.dir_second, FILE_WRITE_DATA, creatorOwnerSid()))
          << int(c.parent);
    }
  }
}

TEST(CreateDescriptor, AutoInheritedParentMarksInheritedAces) {
  SecurityDescriptor parent = withDacl({ace(kAllow, OI | CI, GENERIC_READ, kOther)});
  parent.control |= SE_DACL_AUTO_INHERITED;
  SecurityDescriptor file = createDescriptor(&parent, nullptr, userToken(), false);
  EXPECT_TRUE(file.control & SE_DACL_AUTO_INHERITED);
  ASSERT_EQ(file.dacl->aces.size(), 1u);
  EXPECT_EQ(file.dacl->aces[0], ace(kAllow, INHERITED_ACE, 0x00120089, kOther));
  // A directory splits the generic ACE: the mapped effective one, and the original to pass on.
  SecurityDescriptor dir = createDescriptor(&parent, nullptr, userToken(), true);
  ASSERT_EQ(dir.dacl->aces.size(), 2u);
  EXPECT_EQ(dir.dacl->aces[0], ace(kAllow, INHERITED_ACE, 0x00120089, kOther));
  EXPECT_EQ(dir.dacl->aces[1], ace(kAllow, OI | CI | IO | INHERITED_ACE, GENERIC_READ, kOther));
}

TEST(CreateDescriptor, TheClientsDescriptorWins) {
  SecurityDescriptor parent = withDacl({ace(kAllow, OI, FILE_READ_DATA, kOther)});
  SecurityDescriptor creator;
  creator.control = SE_SELF_RELATIVE | SE_DACL_PRESENT;
  creator.owner = everyoneSid();
  creator.dacl = Acl{2, {ace(kAllow, 0, GENERIC_ALL, kUser)}};
  SecurityDescriptor sd = createDescriptor(&parent, &creator, userToken(), false);
  EXPECT_EQ(*sd.owner, everyoneSid());
  EXPECT_EQ(*sd.group, userToken().primary_group);
  EXPECT_EQ(sd.dacl->aces, std::vector<Ace>{ace(kAllow, 0, FILE_ALL_ACCESS, kUser)});
  // Without SE_DACL_PRESENT the DACL is inherited as if no descriptor had been sent.
  creator.control = SE_SELF_RELATIVE;
  sd = createDescriptor(&parent, &creator, userToken(), false);
  EXPECT_EQ(sd.dacl->aces, std::vector<Ace>{ace(kAllow, 0, FILE_READ_DATA, kOther)});
}

// smb2.acls.INHERITFLAGS: AUTO_INHERITED is kept only with AUTO_INHERIT_REQ, REQ is never kept,
// PROTECTED is kept as sent.
TEST(MergeSecurityDescriptor, DaclControlBits) {
  constexpr uint16_t kReq = 0x0100;
  struct {
    uint16_t sent, kept;
  } cases[] = {
      {0, 0},
      {SE_DACL_AUTO_INHERITED, 0},
      {kReq, 0},
      {SE_DACL_AUTO_INHERITED | kReq, SE_DACL_AUTO_INHERITED},
      {SE_DACL_PROTECTED, SE_DACL_PROTECTED},
      {SE_DACL_PROTECTED | SE_DACL_AUTO_INHERITED | kReq,
       SE_DACL_PROTECTED | SE_DACL_AUTO_INHERITED},
  };
  SecurityDescriptor current = withDacl({ace(kAllow, 0, FILE_READ_DATA, kUser)}, kUser);
  current.control |= SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED;
  for (auto c : cases) {
    SecurityDescriptor in = withDacl({ace(kAllow, 0, GENERIC_WRITE, kOther)});
    in.owner.reset();
    in.control |= c.sent;
    SecurityDescriptor out = mergeSecurityDescriptor(current, in, DACL_SECURITY_INFORMATION);
    EXPECT_EQ(out.control, SE_SELF_RELATIVE | SE_DACL_PRESENT | c.kept) << std::hex << c.sent;
    EXPECT_EQ(*out.owner, kUser);
    EXPECT_EQ(out.dacl->aces[0].mask, 0x00120116u) << "generic rights mapped on set";
  }
}

TEST(MergeSecurityDescriptor, PartsAndNullDacl) {
  SecurityDescriptor current = withDacl({ace(kAllow, 0, FILE_READ_DATA, kUser)}, kUser);
  SecurityDescriptor in;
  in.control = SE_SELF_RELATIVE;  // no DACL_PRESENT: a NULL DACL when the DACL is named
  in.owner = kOther;
  SecurityDescriptor out = mergeSecurityDescriptor(current, in, DACL_SECURITY_INFORMATION);
  EXPECT_TRUE(out.control & SE_DACL_PRESENT);
  EXPECT_FALSE(out.dacl.has_value());
  EXPECT_EQ(*out.owner, kUser) << "owner not named: unchanged";
  out = mergeSecurityDescriptor(current, in, OWNER_SECURITY_INFORMATION);
  EXPECT_EQ(*out.owner, kOther);
  EXPECT_EQ(out.dacl, current.dacl);
  // Inherit-only ACEs keep their generic rights: they are mapped when inherited.
  in = withDacl({ace(kAllow, OI | IO, GENERIC_ALL, creatorOwnerSid())});
  out = mergeSecurityDescriptor(current, in, DACL_SECURITY_INFORMATION);
  EXPECT_EQ(out.dacl->aces[0].mask, static_cast<uint32_t>(GENERIC_ALL));
}

}  // namespace
}  // namespace xsmb::vfs::acl
