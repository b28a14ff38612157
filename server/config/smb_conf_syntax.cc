// The smb.conf tokenizer: text -> sections of `name = value` assignments, with Samba's file
// syntax (comment lines, '\' continuation, [section] headers). Names and values are not looked
// at here; smb_conf_validate.cc does that.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/unicode.h"
#include "server/config/smb_conf_internal.h"

namespace xsmb::config::internal {
namespace {

class SyntaxReader {
 public:
  explicit SyntaxReader(ProblemList* problems) : problems_(problems) {}
  Syntax read(std::string_view text);

 private:
  void handleLine(std::string_view raw, int line_no);

  ProblemList* problems_;
  Syntax syntax_;
  Section* current_ = nullptr;  // nullptr while in [global] (or before any section)
};

Syntax SyntaxReader::read(std::string_view text) {
  // Pointers into syntax_.shares must stay valid while sections are added.
  syntax_.shares.reserve(std::count(text.begin(), text.end(), '[') + 1);
  // A UTF-8 byte order mark is what editors on Windows put in front of the file.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line_no = 0;
  std::string logical;
  int logical_start = 0;
  bool continuing = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view phys =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!phys.empty() && phys.back() == '\r') phys.remove_suffix(1);
    if (!continuing) {
      logical.clear();
      logical_start = line_no;
    }
    if (!phys.empty() && phys.back() == '\\') {
      logical.append(phys.substr(0, phys.size() - 1));
      continuing = true;
      continue;
    }
    logical.append(phys);
    continuing = false;
    handleLine(logical, logical_start);
  }
  if (continuing) {
    problems_->warn(logical_start, "line continuation '\\' at end of file");
    handleLine(logical, logical_start);
  }
  return std::move(syntax_);
}

void SyntaxReader::handleLine(std::string_view raw, int line_no) {
  std::string_view line = trim(raw);
  if (line.empty() || line.front() == ';' || line.front() == '#') return;
  std::vector<Section>& shares = syntax_.shares;
  if (line.front() == '[') {
    size_t close = line.find(']');
    if (close == std::string_view::npos) {
      problems_->error(line_no, "section header without closing ']'");
      // Parameters that follow must not silently land in [global] or the previous share.
      shares.push_back(Section{"", line_no, {}});
      current_ = &shares.back();
      return;
    }
    std::string_view name = trim(line.substr(1, close - 1));
    std::string_view rest = trim(line.substr(close + 1));
    if (!rest.empty() && rest.front() != ';' && rest.front() != '#') {
      problems_->warn(line_no,
                      absl::StrCat("text after section header [", std::string(name), "] ignored"));
    }
    if (normalizeKey(name) == "global") {
      current_ = nullptr;
      return;
    }
    for (Section& s : shares) {
      if (!s.name.empty() && equalsIgnoreCase(s.name, name)) {
        problems_->warn(line_no,
                        absl::StrCat("section [", std::string(name),
                                     "] appears again; merged with the one at line ", s.line));
        current_ = &s;
        return;
      }
    }
    shares.push_back(Section{std::string(name), line_no, {}});
    current_ = &shares.back();
    if (name.empty()) problems_->error(line_no, "empty section name");
    return;
  }
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    problems_->error(line_no, absl::StrCat("malformed line \"", std::string(line),
                                           "\" (expected \"name = value\" or \"[section]\")"));
    return;
  }
  std::string_view name = trim(line.substr(0, eq));
  std::string_view value = trim(line.substr(eq + 1));
  if (name.empty()) {
    problems_->error(line_no, "missing parameter name before '='");
    return;
  }
  Assignment a{std::string(name), std::string(value), line_no};
  if (current_) {
    current_->assignments.push_back(std::move(a));
  } else {
    syntax_.global.push_back(std::move(a));
  }
}

}  // namespace

Syntax readSyntax(std::string_view text, ProblemList* problems) {
  return SyntaxReader(problems).read(text);
}

}  // namespace xsmb::config::internal
