// ServerContext::reloadShares (server/session/reload.cc): a new share becomes reachable, a
// removed one is not found by new tree connects but stays alive for those holding it, a changed
// one is replaced (the old object kept), an unchanged one is left as it is.
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/session/server_context.h"

namespace xsmb::session {
namespace {

config::ShareConfig share(const std::string& name, bool read_only = true, int line = 0) {
  config::ShareConfig sc;
  sc.name = name;
  sc.path = "/nonexistent/" + name;
  sc.read_only = read_only;
  sc.line = line;
  return sc;
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& sc : {share("IPC$"), share("a"), share("b")})
      server_.shares.push_back(open(sc));
  }
  std::unique_ptr<Share> open(const config::ShareConfig& sc) {
    ++opened_;
    auto sh = std::make_unique<Share>();
    sh->cfg = sc;
    return sh;
  }
  std::string reload(const std::vector<config::ShareConfig>& next) {
    return server_.reloadShares(next, [this](const config::ShareConfig& sc) { return open(sc); });
  }
  ServerContext server_;
  int opened_ = 0;
};

TEST_F(ReloadTest, AddsRemovesAndReplaces) {
  Share* a = server_.findShare("A");
  Share* b = server_.findShare("b");
  ASSERT_TRUE(a && b);
  opened_ = 0;
  // a unchanged (only its line moved), b changed, c new; IPC$ stays.
  EXPECT_EQ(reload({share("IPC$"), share("a", true, 7), share("b", false), share("c")}),
            "shares: 1 added, 0 removed, 1 changed");
  EXPECT_EQ(opened_, 2);  // b anew and c
  EXPECT_EQ(server_.findShare("a"), a);
  Share* b2 = server_.findShare("B");
  ASSERT_NE(b2, nullptr);
  EXPECT_NE(b2, b);
  EXPECT_FALSE(b2->cfg.read_only);
  EXPECT_TRUE(b->removed);        // the old b: still there for its tree connects
  EXPECT_TRUE(b->cfg.read_only);  // as it was
  EXPECT_NE(server_.findShare("c"), nullptr);
  EXPECT_EQ(server_.liveShares().size(), 4u);

  EXPECT_EQ(reload({share("IPC$"), share("c")}), "shares: 0 added, 2 removed, 0 changed");
  EXPECT_EQ(server_.findShare("a"), nullptr);
  EXPECT_EQ(server_.findShare("b"), nullptr);
  EXPECT_TRUE(a->removed);
  EXPECT_EQ(a->cfg.name, "a");  // not freed
  EXPECT_EQ(server_.liveShares().size(), 2u);

  // A removed share can come back: a new object, found again.
  EXPECT_EQ(reload({share("IPC$"), share("c"), share("a")}),
            "shares: 1 added, 0 removed, 0 changed");
  Share* a2 = server_.findShare("a");
  ASSERT_NE(a2, nullptr);
  EXPECT_NE(a2, a);
}

TEST_F(ReloadTest, SameConfigurationChangesNothing) {
  opened_ = 0;
  EXPECT_EQ(reload({share("IPC$"), share("a"), share("b")}),
            "shares: 0 added, 0 removed, 0 changed");
  EXPECT_EQ(opened_, 0);
  EXPECT_EQ(server_.shares.size(), 3u);
}

}  // namespace
}  // namespace xsmb::session
