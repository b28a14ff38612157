#include "server/config/user_db.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace xsmb::config {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::string(::testing::TempDir()) + "/xsmbdb.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// NT hash of "Password" (MS-NLMP 4.2.2.1.2 NTOWFv1 test vector).
const crypto::Key16 kPasswordHash = {0xa4, 0xf4, 0x9c, 0x40, 0x65, 0x10, 0xbd, 0xca,
                                     0xb6, 0x82, 0x4e, 0xe7, 0xc3, 0x0f, 0xd8, 0x52};

TEST(UserDbTest, ParsesLinesCommentsAndFlags) {
  auto db = UserDb::parse(
      "# users\n"
      "\n"
      "alice:alice:A4F49C406510BDCAB6824EE7C30FD852:\r\n"
      "   # indented comment\n"
      "Bob:bobby:31d6cfe0d16ae931b73c59d7e0c089c0:D\n");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_EQ(db->users().size(), 2u);
  const UserEntry& a = db->users()[0];
  EXPECT_EQ(a.name, "alice");
  EXPECT_EQ(a.unix_name, "alice");
  EXPECT_EQ(a.nt_hash, kPasswordHash);
  EXPECT_FALSE(a.disabled);
  const UserEntry* b = db->find("BOB");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->unix_name, "bobby");
  EXPECT_TRUE(b->disabled);
  EXPECT_EQ(b->nt_hash, crypto::ntHash(""));
  EXPECT_EQ(db->find("carol"), nullptr);
}

TEST(UserDbTest, MalformedLinesNameTheirLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"ok:ok:A4F49C406510BDCAB6824EE7C30FD852:\nbroken\n", "line 2: expected"},
      {"a:a:A4F49C406510BDCAB6824EE7C30FD852\n", "line 1: expected"},
      {"a:a:A4F49C406510BDCAB6824EE7C30FD852::\n", "line 1: more than 4"},
      {"a:a:A4F49C406510BDCAB6824EE7C30FD85:\n", "line 1: NT hash"},
      {"a:a:A4F49C406510BDCAB6824EE7C30FD85Z:\n", "line 1: NT hash"},
      {"\n\na:a:A4F49C406510BDCAB6824EE7C30FD852:X\n", "line 3: unknown flag 'X'"},
      {":a:A4F49C406510BDCAB6824EE7C30FD852:\n", "line 1: empty user name"},
      {"a::A4F49C406510BDCAB6824EE7C30FD852:\n", "line 1: empty unix user name"},
      {"a*b:a:A4F49C406510BDCAB6824EE7C30FD852:\n", "line 1: user name \"a*b\""},
      {"a:a:A4F49C406510BDCAB6824EE7C30FD852:\nA:b:A4F49C406510BDCAB6824EE7C30FD852:\n",
       "line 2: user \"A\" listed twice"},
  };
  for (const auto& [text, want] : cases) {
    auto db = UserDb::parse(text);
    ASSERT_FALSE(db.ok()) << text;
    EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(db.status().message()), HasSubstr(want)) << text;
  }
}

TEST(UserDbTest, AddRemoveSetHash) {
  UserDb db;
  ASSERT_TRUE(db.add({"alice", "alice", kPasswordHash, false}).ok());
  EXPECT_EQ(db.add({"ALICE", "x", {}, false}).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(db.add({"a:b", "x", {}, false}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db.add({"ok", "x:y", {}, false}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db.add({"", "x", {}, false}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db.add({" pad", "x", {}, false}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db.add({"nl\n", "x", {}, false}).code(), absl::StatusCode::kInvalidArgument);

  crypto::Key16 other = crypto::ntHash("other");
  ASSERT_TRUE(db.setHash("Alice", other).ok());
  EXPECT_EQ(db.find("alice")->nt_hash, other);
  EXPECT_EQ(db.setHash("bob", other).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(db.setDisabled("alice", true).ok());
  EXPECT_TRUE(db.find("alice")->disabled);
  EXPECT_EQ(db.setDisabled("bob", true).code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(db.remove("bob").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(db.remove("ALICE").ok());
  EXPECT_TRUE(db.users().empty());
}

TEST(UserDbTest, SaveLoadRoundTripWithMode0600) {
  TempDir dir;
  std::string path = dir.path() + "/a/b/users.db";
  UserDb db;
  ASSERT_TRUE(db.add({"alice", "root", kPasswordHash, false}).ok());
  ASSERT_TRUE(db.add({"Bob Smith", "nobody", crypto::ntHash("x"), true}).ok());
  ASSERT_TRUE(db.save(path).ok());

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir.path() + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat((dir.path() + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  std::string text = readFile(path);
  EXPECT_THAT(text, HasSubstr("\nalice:root:A4F49C406510BDCAB6824EE7C30FD852:\n"));
  EXPECT_THAT(text, HasSubstr("\nBob Smith:nobody:"));
  EXPECT_THAT(text, HasSubstr(":D\n"));

  auto loaded = UserDb::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->users(), db.users());

  // Saving again replaces the file and leaves no temporary files behind.
  ASSERT_TRUE(loaded->remove("alice").ok());
  ASSERT_TRUE(loaded->save(path).ok());
  auto again = UserDb::load(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->users().size(), 1u);
  EXPECT_EQ(std::system(("test $(ls -A '" + dir.path() + "/a/b' | wc -l) -eq 1").c_str()), 0);
}

TEST(UserDbTest, LoadMissingFileIsEmptyAndBadFileNamesPathAndLine) {
  TempDir dir;
  auto db = UserDb::load(dir.path() + "/none.db");
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE(db->users().empty());

  std::string path = dir.path() + "/bad.db";
  {
    std::ofstream f(path);
    f << "# header\nalice:alice:nothex:\n";
  }
  auto bad = UserDb::load(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(path + ": user database line 2"));
}

TEST(UserDbTest, SaveIntoUnwritableLocationFails) {
  UserDb db;
  // A regular file cannot be a parent directory.
  EXPECT_FALSE(db.save("/etc/passwd/users.db").ok());
}

}  // namespace
}  // namespace xsmb::config
