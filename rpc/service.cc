#include "rpc/service.h"

#include "common/base/unicode.h"

namespace xsmb::rpc {

namespace {
SyntaxId syntax(const char* uuid, uint16_t major, uint16_t minor) {
  return SyntaxId{*Uuid::parse(uuid), major, minor};
}
}  // namespace

const SyntaxId& srvsvcSyntax() {
  static const SyntaxId s = syntax("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 0);
  return s;
}
const SyntaxId& wkssvcSyntax() {
  static const SyntaxId s = syntax("6bffd098-a112-3610-9833-46c3f87e345a", 1, 0);
  return s;
}
const SyntaxId& lsarpcSyntax() {
  static const SyntaxId s = syntax("12345778-1234-abcd-ef00-0123456789ab", 0, 0);
  return s;
}
const SyntaxId& samrSyntax() {
  static const SyntaxId s = syntax("12345778-1234-abcd-ef00-0123456789ac", 1, 0);
  return s;
}

const UserInfo* findUserByName(const ServerInfo& info, std::string_view name) {
  for (const auto& u : info.users) {
    if (equalsIgnoreCase(u.name, name)) return &u;
  }
  return nullptr;
}

const UserInfo* findUserByRid(const ServerInfo& info, uint32_t rid) {
  for (const auto& u : info.users) {
    if (u.rid == rid) return &u;
  }
  return nullptr;
}

Sid domainSidOf(const ServerInfo& info) {
  if (auto s = Sid::parse(info.domain_sid); s && s->sub_authorities.size() < 15) return *s;
  return *Sid::parse("S-1-5-21-0-0-0");
}

std::pair<std::string_view, std::string_view> splitAccountName(std::string_view full) {
  size_t slash = full.find('\\');
  if (slash == std::string_view::npos) return {std::string_view(), full};
  return {full.substr(0, slash), full.substr(slash + 1)};
}

}  // namespace xsmb::rpc
