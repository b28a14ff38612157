// A stand-in for libFuzzer's driver where there is no libFuzzer (GCC): runs a fuzz target's
// LLVMFuzzerTestOneInput once on the empty input, as libFuzzer does first, then once on every
// regular file named on the command line or found directly in a directory named there (sorted
// by name, so a failure is reproducible). Each input is a heap copy of exactly its size so that
// AddressSanitizer catches a read one byte past the end, as under libFuzzer.
// Exit status: 0 when every input ran; 1 when an input could not be read or no file was found
// (an empty or mistyped corpus must not pass unnoticed). A sanitizer report aborts the process.
// Usage: TARGET CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

// Regular files of `arg` (itself, or its directory's entries by name); false when it is neither.
bool collect(const std::string& arg, std::vector<fs::path>& out) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) {
    out.emplace_back(arg);
    return true;
  }
  if (!fs::is_directory(arg, ec)) return false;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(arg, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  out.insert(out.end(), files.begin(), files.end());
  return !ec;
}

// Runs the target on the bytes of `path`; false when the file cannot be read.
bool runFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return false;
  // Exactly bytes.size() bytes on the heap, so that an overread is outside the allocation.
  auto copy = std::make_unique<uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), copy.get());
  LLVMFuzzerTestOneInput(copy.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!collect(argv[i], files)) {
      std::fprintf(stderr, "replay: %s is neither a file nor a readable directory\n", argv[i]);
      return 1;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files in the corpus given\n");
    return 1;
  }
  auto empty = std::make_unique<uint8_t[]>(0);
  LLVMFuzzerTestOneInput(empty.get(), 0);
  for (const auto& f : files) {
    if (!runFile(f)) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      return 1;
    }
  }
  std::printf("replay: ran the empty input and %zu files\n", files.size());
  return 0;
}
