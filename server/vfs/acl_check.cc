#include "server/vfs/acl_check.h"

#include <algorithm>

#include "common/smb2/constants.h"
#include "common/smb2/security_constants.h"

namespace xsmb::vfs::acl {
namespace {

using namespace smb2;

constexpr uint16_t SE_DACL_AUTO_INHERIT_REQ = 0x0100;  // MS-DTYP 2.4.6
constexpr uint16_t SE_SACL_AUTO_INHERIT_REQ = 0x0200;
constexpr uint8_t kInheritFlags =
    OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE | NO_PROPAGATE_INHERIT_ACE | INHERIT_ONLY_ACE;
constexpr uint32_t kGenericRights = GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL;

bool ownerRightsNamed(const Acl& dacl) {
  const Sid owner_rights = ownerRightsSid();
  return std::any_of(dacl.aces.begin(), dacl.aces.end(), [&](const Ace& a) {
    return !a.opaque && !(a.flags & INHERIT_ONLY_ACE) && a.sid == owner_rights;
  });
}

// The effective ACE a child gets from `ace`: creator SIDs replaced, generic rights mapped, no
// inheritance flags.
Ace effectiveCopy(const Ace& ace, const Sid& owner, const Sid& group, uint8_t inherited) {
  Ace e = ace;
  if (e.sid == creatorOwnerSid()) e.sid = owner;
  if (e.sid == creatorGroupSid()) e.sid = group;
  e.mask = mapGenericFileRights(e.mask);
  e.flags = static_cast<uint8_t>((e.flags & ~(kInheritFlags | INHERITED_ACE)) | inherited);
  return e;
}

// MS-DTYP 2.5.3.4.2 ComputeInheritedACLFromParent for one parent ACE.
void inheritAce(const Ace& ace, bool container, const Sid& owner, const Sid& group,
                uint8_t inherited, std::vector<Ace>* out) {
  bool oi = ace.flags & OBJECT_INHERIT_ACE, ci = ace.flags & CONTAINER_INHERIT_ACE;
  bool np = ace.flags & NO_PROPAGATE_INHERIT_ACE;
  if (ace.opaque) return;  // object and callback ACEs are not passed on
  if (!container) {
    if (oi) out->push_back(effectiveCopy(ace, owner, group, inherited));
    return;
  }
  if (!ci) {
    // A directory only carries an OI ACE on to its files, unless NP stops it here.
    if (oi && !np) {
      Ace copy = ace;
      copy.flags = static_cast<uint8_t>(OBJECT_INHERIT_ACE | INHERIT_ONLY_ACE | inherited);
      out->push_back(copy);
    }
    return;
  }
  if (np) {
    out->push_back(effectiveCopy(ace, owner, group, inherited));
    return;
  }
  bool creator = ace.sid == creatorOwnerSid() || ace.sid == creatorGroupSid();
  uint8_t keep = ace.flags & (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE);
  if (creator || (ace.mask & kGenericRights)) {
    // Split: one ACE that applies here, one that passes the original on.
    out->push_back(effectiveCopy(ace, owner, group, inherited));
    Ace copy = ace;
    copy.flags = static_cast<uint8_t>(keep | INHERIT_ONLY_ACE | inherited);
    out->push_back(copy);
    return;
  }
  Ace copy = ace;
  copy.flags = static_cast<uint8_t>(keep | inherited);
  out->push_back(copy);
}

Acl defaultDacl(const Sid& owner) {
  Acl acl;
  acl.aces.push_back(Ace{ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, owner, std::nullopt});
  acl.aces.push_back(
      Ace{ACCESS_ALLOWED_ACE_TYPE, 0, FILE_ALL_ACCESS, localSystemSid(), std::nullopt});
  return acl;
}

// The Control bits a SET_INFO of one ACL keeps (PRESENT, AUTO_INHERITED only with the REQ bit,
// PROTECTED).
uint16_t aclControl(uint16_t incoming, uint16_t present, uint16_t auto_inherited,
                    uint16_t auto_inherit_req, uint16_t protected_bit) {
  uint16_t c = present | (incoming & protected_bit);
  if ((incoming & auto_inherited) && (incoming & auto_inherit_req)) c |= auto_inherited;
  return c;
}

}  // namespace

bool AccessToken::holds(const Sid& sid) const {
  return std::find(sids.begin(), sids.end(), sid) != sids.end();
}

AccessToken tokenForUnixIdentity(uint32_t uid, uint32_t gid, const std::vector<uint32_t>& groups,
                                 bool guest) {
  AccessToken t;
  t.user = unixUserSid(uid);
  t.primary_group = unixGroupSid(gid);
  t.sids = {t.user, t.primary_group};
  for (uint32_t g : groups) {
    if (!t.holds(unixGroupSid(g))) t.sids.push_back(unixGroupSid(g));
  }
  t.sids.push_back(everyoneSid());
  if (!guest) t.sids.push_back(authenticatedUsersSid());
  return t;
}

uint32_t mapGenericFileRights(uint32_t a) {
  if (a & GENERIC_READ) a |= FILE_GENERIC_READ;
  if (a & GENERIC_WRITE) a |= FILE_GENERIC_WRITE;
  if (a & GENERIC_EXECUTE) a |= FILE_GENERIC_EXECUTE;
  if (a & GENERIC_ALL) a |= FILE_ALL_ACCESS;
  return a & ~kGenericRights;
}

void mapGenericInAcl(Acl* acl) {
  for (Ace& ace : acl->aces) {
    if (!ace.opaque && !(ace.flags & INHERIT_ONLY_ACE)) ace.mask = mapGenericFileRights(ace.mask);
  }
}

uint32_t grantedAccess(const SecurityDescriptor& sd, const AccessToken& token,
                       const Sid& fallback_owner) {
  if (!(sd.control & SE_DACL_PRESENT) || !sd.dacl) return FILE_ALL_ACCESS;
  const Acl& dacl = *sd.dacl;
  bool is_owner = token.holds(sd.owner ? *sd.owner : fallback_owner);
  bool owner_rights = ownerRightsNamed(dacl);
  uint32_t granted = 0, denied = 0;
  if (is_owner && !owner_rights) granted = READ_CONTROL | WRITE_DAC;
  const Sid owner_rights_sid = ownerRightsSid();
  for (const Ace& ace : dacl.aces) {
    if (ace.opaque || (ace.flags & INHERIT_ONLY_ACE)) continue;
    bool match = token.holds(ace.sid) || (is_owner && ace.sid == owner_rights_sid);
    if (!match) continue;
    uint32_t mask = mapGenericFileRights(ace.mask);
    if (ace.type == ACCESS_ALLOWED_ACE_TYPE) granted |= mask & ~denied;
    if (ace.type == ACCESS_DENIED_ACE_TYPE) denied |= mask & ~granted;
  }
  return granted & FILE_ALL_ACCESS;
}

SecurityDescriptor createDescriptor(const SecurityDescriptor* parent,
                                    const SecurityDescriptor* creator, const AccessToken& token,
                                    bool container) {
  SecurityDescriptor sd;
  sd.owner = creator && creator->owner ? *creator->owner : token.user;
  sd.group = creator && creator->group ? *creator->group : token.primary_group;
  sd.control = SE_SELF_RELATIVE | SE_DACL_PRESENT;
  if (creator && (creator->control & SE_DACL_PRESENT)) {
    sd.dacl = creator->dacl;
    if (sd.dacl) mapGenericInAcl(&*sd.dacl);
    sd.control |= creator->control & SE_DACL_PROTECTED;
  } else {
    Acl inherited;
    bool auto_inherit = parent && (parent->control & SE_DACL_AUTO_INHERITED);
    if (parent && parent->dacl) {
      for (const Ace& ace : parent->dacl->aces) {
        inheritAce(ace, container, *sd.owner, *sd.group, auto_inherit ? INHERITED_ACE : 0,
                   &inherited.aces);
      }
    }
    if (inherited.aces.empty()) {
      sd.dacl = defaultDacl(*sd.owner);
    } else {
      sd.dacl = std::move(inherited);
      if (auto_inherit) sd.control |= SE_DACL_AUTO_INHERITED;
    }
  }
  if (creator && (creator->control & SE_SACL_PRESENT)) {
    sd.sacl = creator->sacl;
    sd.control |= SE_SACL_PRESENT;
  }
  return sd;
}

SecurityDescriptor mergeSecurityDescriptor(const SecurityDescriptor& current,
                                           const SecurityDescriptor& incoming, uint32_t info) {
  SecurityDescriptor sd = current;
  if ((info & OWNER_SECURITY_INFORMATION) && incoming.owner) sd.owner = incoming.owner;
  if ((info & GROUP_SECURITY_INFORMATION) && incoming.group) sd.group = incoming.group;
  if (info & DACL_SECURITY_INFORMATION) {
    sd.dacl = (incoming.control & SE_DACL_PRESENT) ? incoming.dacl : std::nullopt;
    if (sd.dacl) mapGenericInAcl(&*sd.dacl);
    sd.control &= ~(SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED |
                    SE_DACL_DEFAULTED | SE_DACL_AUTO_INHERIT_REQ);
    sd.control |= aclControl(incoming.control, SE_DACL_PRESENT, SE_DACL_AUTO_INHERITED,
                             SE_DACL_AUTO_INHERIT_REQ, SE_DACL_PROTECTED);
  }
  if (info & SACL_SECURITY_INFORMATION) {
    sd.sacl = (incoming.control & SE_SACL_PRESENT) ? incoming.sacl : std::nullopt;
    sd.control &= ~(SE_SACL_PRESENT | SE_SACL_AUTO_INHERITED | SE_SACL_PROTECTED |
                    SE_SACL_DEFAULTED | SE_SACL_AUTO_INHERIT_REQ);
    if (incoming.control & SE_SACL_PRESENT) {
      sd.control |= aclControl(incoming.control, SE_SACL_PRESENT, SE_SACL_AUTO_INHERITED,
                               SE_SACL_AUTO_INHERIT_REQ, SE_SACL_PROTECTED);
    }
  }
  sd.control |= SE_SELF_RELATIVE;
  return sd;
}

}  // namespace xsmb::vfs::acl
