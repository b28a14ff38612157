// `--help` of every xsmbd binary, laid out like a man page: NAME, SYNOPSIS, DESCRIPTION,
// OPTIONS (or COMMANDS), then sections such as EXIT STATUS, FILES, SEE ALSO. Plain text on
// stdout, 80 columns; `renderManual` only formats, each program says what it does.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xsmb {

struct ManualEntry {
  std::string term;  // e.g. "--config FILE" or "load [--port N]..."
  std::string text;  // one paragraph; wrapped when rendered
};

struct Manual {
  std::string name;         // "xsmbd - the SMB2/SMB3 file server"
  std::string synopsis;     // one usage line per line
  std::string description;  // paragraphs separated by "\n\n"
  std::string entries_title = "OPTIONS";
  std::vector<ManualEntry> entries;
  std::vector<std::pair<std::string, std::string>> sections;  // {"EXIT STATUS", "0 ..."}
};

namespace manual_internal {

// `text` wrapped at 80 columns, every line indented by `indent` spaces; "\n\n" keeps paragraphs
// and a single "\n" a forced line break.
inline std::string wrap(std::string_view text, size_t indent) {
  std::string out;
  const std::string pad(indent, ' ');
  size_t col = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') {
      out += '\n';
      col = 0;
      ++i;
      continue;
    }
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = text.find_first_of(" \n", i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    if (col > 0 && col + 1 + word.size() > 80) {
      out += '\n';
      col = 0;
    }
    if (col == 0) {
      out += pad;
      col = indent;
    } else {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    i = end;
  }
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

}  // namespace manual_internal

inline std::string renderManual(const Manual& m) {
  using manual_internal::wrap;
  std::string out = "NAME\n" + wrap(m.name, 7) + "\nSYNOPSIS\n";
  size_t at = 0;
  while (at < m.synopsis.size()) {
    size_t nl = m.synopsis.find('\n', at);
    if (nl == std::string::npos) nl = m.synopsis.size();
    out += wrap(std::string_view(m.synopsis).substr(at, nl - at), 7);
    at = nl + 1;
  }
  out += "\nDESCRIPTION\n" + wrap(m.description, 7);
  if (!m.entries.empty()) {
    out += "\n" + m.entries_title + "\n";
    for (const ManualEntry& e : m.entries) out += wrap(e.term, 7) + wrap(e.text, 14);
  }
  for (const auto& [title, text] : m.sections) out += "\n" + title + "\n" + wrap(text, 7);
  return out;
}

// True when argv asks for the manual: "--help" or "-h" anywhere before a "--".
inline bool wantsManual(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

}  // namespace xsmb
