// What the smb.conf tests share: a temporary directory for share paths, a fixture that parses
// text with @DIR@ standing for that directory, and a one-line-per-problem description for
// failure messages.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/config/smb_conf.h"

namespace xsmb::config {

// A temporary directory that exists for the test's lifetime.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::string(::testing::TempDir()) + "/xsmbconf.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// "E3: message" / "W3: message", one line per problem.
inline std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& p : problems) {
    out += (p.severity == Problem::Severity::kError ? "E" : "W") + std::to_string(p.line) + ": " +
           p.message + "\n";
  }
  return out;
}

class SmbConfTest : public ::testing::Test {
 protected:
  // Replaces @DIR@ by an existing directory so that share paths check out.
  ParseResult parse(std::string text) {
    for (size_t pos; (pos = text.find("@DIR@")) != std::string::npos;) {
      text.replace(pos, 5, dir_.path());
    }
    return parseSmbConf(text);
  }
  TempDir dir_;
};

}  // namespace xsmb::config
