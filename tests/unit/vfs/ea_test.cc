// Extended attributes: the FILE_FULL_EA_INFORMATION / FILE_GET_EA_INFORMATION codecs
// (MS-FSCC 2.4.15, 2.4.16) and the xattr layout shared with Samba (user.<name>).
#include "server/vfs/ea.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "tests/unit/vfs/temp_dir.h"

namespace xsmb::vfs {
namespace {

Bytes entry(uint32_t next, uint8_t flags, const std::string& name, const std::string& value,
            size_t pad = 0) {
  Bytes b;
  ByteWriter w(&b);
  w.u32(next);
  w.u8(flags);
  w.u8(static_cast<uint8_t>(name.size()));
  w.u16(static_cast<uint16_t>(value.size()));
  w.bytes(name.data(), name.size());
  w.u8(0);
  w.bytes(value.data(), value.size());
  w.zeros(pad);
  return b;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct ListCase {
  const char* description;
  Bytes input;
  NtStatus status;
  size_t entries;
};

TEST(FullEaListTest, Table) {
  // "A" entry: 8 + 1 + 1 + 1 = 11 bytes, padded to 12.
  const ListCase cases[] = {
      {"one entry", entry(0, 0, "Color", "blue"), STATUS_SUCCESS, 1},
      {"two entries", cat(entry(12, 0, "A", "1", 1), entry(0, 0x80, "B", "")), STATUS_SUCCESS, 2},
      {"empty buffer", {}, STATUS_EA_LIST_INCONSISTENT, 0},
      {"unaligned next", cat(entry(11, 0, "A", "1"), entry(0, 0, "B", "2")),
       STATUS_EA_LIST_INCONSISTENT, 0},
      {"next beyond the buffer", entry(64, 0, "A", "1", 1), STATUS_EA_LIST_INCONSISTENT, 0},
      {"next inside its own entry", cat(entry(4, 0, "A", "1", 1), entry(0, 0, "B", "2")),
       STATUS_EA_LIST_INCONSISTENT, 0},
      {"unknown flag", entry(0, 0x01, "A", "1"), STATUS_EA_LIST_INCONSISTENT, 0},
      {"wildcard in the name", entry(0, 0, "a*b", "1"), STATUS_INVALID_EA_NAME, 0},
      {"colon in the name", entry(0, 0, "a:b", "1"), STATUS_INVALID_EA_NAME, 0},
      {"empty name", entry(0, 0, "", "1"), STATUS_INVALID_EA_NAME, 0},
  };
  for (const auto& c : cases) {
    std::vector<FullEa> eas;
    EXPECT_EQ(parseFullEaList(c.input, &eas), c.status) << c.description;
    if (c.status == STATUS_SUCCESS) {
      EXPECT_EQ(eas.size(), c.entries) << c.description;
    }
  }
  Bytes no_nul = entry(0, 0, "AB", "1");
  no_nul[8 + 2] = 'x';
  std::vector<FullEa> eas;
  EXPECT_EQ(parseFullEaList(no_nul, &eas), STATUS_EA_LIST_INCONSISTENT);
}

TEST(FullEaListTest, TruncatedAtEveryLength) {
  Bytes full = cat(entry(12, 0, "A", "1", 1), entry(0, 0, "Second", "value"));
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<FullEa> eas;
    EXPECT_NE(parseFullEaList(ByteSpan(full.data(), n), &eas), STATUS_SUCCESS) << n;
  }
}

TEST(FullEaListTest, EncodeRoundTripAndLimit) {
  std::vector<FullEa> eas(2);
  eas[0].name = "EAONE";
  eas[0].value = {'V', 'A', 'L', 'U', 'E', '1'};
  eas[1].name = "SECONDEA";
  eas[1].value = {'x'};
  Bytes out;
  ASSERT_EQ(encodeFullEaList(eas, SIZE_MAX, &out), 2u);
  EXPECT_EQ(out.size(), 20u + 18u);  // 8+5+1+6 = 20 (aligned), then 8+8+1+1
  EXPECT_EQ(eaListSize(eas), 38u);
  std::vector<FullEa> back;
  ASSERT_EQ(parseFullEaList(out, &back), STATUS_SUCCESS);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].name, "SECONDEA");
  Bytes cut;
  EXPECT_EQ(encodeFullEaList(eas, 37, &cut), 1u);  // whole entries only
  EXPECT_EQ(cut.size(), 20u);
  Bytes none;
  EXPECT_EQ(encodeFullEaList(eas, 19, &none), 0u);
}

TEST(GetEaListTest, ParsesNamesAndRefusesGarbage) {
  Bytes list;
  ByteWriter w(&list);
  w.u32(12);
  w.u8(5);
  w.bytes("COLOR", 5);
  w.u8(0);
  w.u8(0);  // padding to 12
  w.u32(0);
  w.u8(4);
  w.bytes("none", 4);
  w.u8(0);
  std::vector<std::string> names;
  ASSERT_EQ(parseGetEaList(list, &names), STATUS_SUCCESS);
  EXPECT_EQ(names, (std::vector<std::string>{"COLOR", "none"}));
  for (size_t n = 0; n < list.size(); ++n) {
    EXPECT_NE(parseGetEaList(ByteSpan(list.data(), n), &names), STATUS_SUCCESS) << n;
  }
}

TEST(EaXattrTest, SambaNamingAndPrivateXattrs) {
  EXPECT_EQ(eaXattrName("Color"), "user.Color");
  EXPECT_EQ(eaNameFromXattr("user.Color"), "Color");
  EXPECT_EQ(eaNameFromXattr("user.DosStream.s:$DATA"), std::nullopt);
  EXPECT_EQ(eaNameFromXattr("user.DOSATTRIB"), std::nullopt);
  EXPECT_EQ(eaNameFromXattr("user.SAMBA_PAI"), std::nullopt);
  EXPECT_EQ(eaNameFromXattr("user.xsmb.dosinfo"), std::nullopt);
  EXPECT_EQ(eaNameFromXattr("security.NTACL"), std::nullopt);
  EXPECT_EQ(eaNameFromXattr("trusted.x"), std::nullopt);
}

TEST(EaXattrTest, ReadWriteOnAFile) {
  testing::TempDir dir;
  testing::writeFile(dir / "f");
  int fd = ::open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  if (fsetxattr(fd, "user.probe", "x", 1, 0) != 0) {
    ::close(fd);
    GTEST_SKIP() << "no user xattrs here";
  }
  fremovexattr(fd, "user.probe");
  ASSERT_EQ(fsetxattr(fd, "user.DosStream.s:$DATA", "\0", 1, 0), 0);  // a stream: no EA
  std::vector<FullEa> set(2);
  set[0].name = "Color";
  set[0].value = {'b', 'l', 'u', 'e'};
  set[1].name = "gone";  // empty value: remove (absent is no error)
  ASSERT_EQ(writeEas(fd, set), STATUS_SUCCESS);
  char buf[16];
  EXPECT_EQ(fgetxattr(fd, "user.Color", buf, sizeof(buf)), 4);
  std::vector<FullEa> got;
  ASSERT_EQ(readEas(fd, &got), STATUS_SUCCESS);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].name, "Color");
  std::vector<FullEa> bad(1);
  bad[0].name = "xsmb.dosinfo";
  bad[0].value = {'1'};
  EXPECT_EQ(writeEas(fd, bad), STATUS_ACCESS_DENIED);
  ::close(fd);
}

}  // namespace
}  // namespace xsmb::vfs
