// The OPTIONS of a manual (manual.h) from the Abseil flags one source file defines: each flag
// as "--name=VALUE", its help text and its default, sorted by name. For the binaries that parse
// their command line with Abseil (xsmbd, xsmb-bench), so that --help lists exactly their flags.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "common/base/manual.h"

namespace xsmb {

// Flags whose defining file's path ends with `file_suffix` (e.g. "server/main.cc").
// `dashes`: print names with '-' for '_' where the program accepts both spellings.
inline std::vector<ManualEntry> flagEntries(std::string_view file_suffix, bool dashes) {
  std::vector<ManualEntry> out;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    std::string file = flag->Filename();
    if (file.size() < file_suffix.size() ||
        file.compare(file.size() - file_suffix.size(), file_suffix.size(), file_suffix) != 0) {
      continue;
    }
    std::string shown(name);
    if (dashes) std::replace(shown.begin(), shown.end(), '_', '-');
    std::string def = flag->DefaultValue();
    std::string term = "--" + shown;
    if (!flag->IsOfType<bool>()) term += "=VALUE";
    std::string text = flag->Help();
    text += def.empty() ? " (default: none)" : " (default: " + def + ")";
    out.push_back({term, text});
  }
  std::sort(out.begin(), out.end(),
            [](const ManualEntry& a, const ManualEntry& b) { return a.term < b.term; });
  return out;
}

}  // namespace xsmb
