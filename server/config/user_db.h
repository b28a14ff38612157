// The xsmbd user database: SMB user names, the Unix accounts that serve them, and their NT
// password hashes (MS-NLMP 3.3.1 NTOWFv1: MD4 of the UTF-16LE password). One user per line:
//   name:unix_name:NTHASH:flags
// NTHASH is 32 hex digits; flags is a string of letters ("D" = disabled), possibly empty.
// Lines starting with '#' and blank lines are comments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/crypto.h"

namespace xsmb::config {

struct UserEntry {
  std::string name;       // SMB user name (matched case-insensitively)
  std::string unix_name;  // Unix account whose uid/gid/groups serve its requests
  crypto::Key16 nt_hash{};
  bool disabled = false;

  bool operator==(const UserEntry&) const = default;
};

class UserDb {
 public:
  // Missing file -> empty database. Malformed line -> InvalidArgument naming the line number.
  static absl::StatusOr<UserDb> load(const std::string& path);
  // Parses database text (the file format above); errors as for load().
  static absl::StatusOr<UserDb> parse(std::string_view text);
  // Writes atomically (temp file + rename), mode 0600, creating parent directories (0700).
  absl::Status save(const std::string& path) const;
  // The database in file format, one line per user, in insertion order.
  std::string serialize() const;
  const UserEntry* find(std::string_view name) const;
  // AlreadyExists if present (case-insensitively); InvalidArgument for a name or unix name
  // that is empty or holds ':', control characters or characters Windows forbids in names.
  absl::Status add(UserEntry entry);
  absl::Status remove(std::string_view name);                                 // NotFound if absent
  absl::Status setHash(std::string_view name, const crypto::Key16& nt_hash);  // NotFound
  absl::Status setDisabled(std::string_view name, bool disabled);             // NotFound
  const std::vector<UserEntry>& users() const;

  // OK if `name` may be stored as an SMB user name (see add()).
  static absl::Status validateName(std::string_view name);

 private:
  UserEntry* findMutable(std::string_view name);

  std::vector<UserEntry> users_;
};

}  // namespace xsmb::config
