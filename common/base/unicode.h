// UTF-8 <-> UTF-16LE conversion for names on the wire (MS-SMB2 2.2: all names
// are UTF-16LE without a terminator) and Windows-style case folding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/base/bytes.h"

namespace xsmb {

// Decodes UTF-16LE bytes (odd length or unpaired surrogates -> nullopt).
std::optional<std::string> utf16leToUtf8(ByteSpan in);
// Encodes UTF-8 as UTF-16LE; invalid UTF-8 sequences become U+FFFD.
Bytes utf8ToUtf16le(std::string_view in);
// Appends the UTF-16LE form of `in` to `out`; returns the number of bytes added.
size_t appendUtf16le(std::string_view in, Bytes* out);
// Upper-cases like Windows does for name comparison (simple per-code-point
// mapping of the Unicode upcase table's common ranges).
std::string upcaseUtf8(std::string_view in);
// Case-insensitive equality of two UTF-8 names under upcaseUtf8.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace xsmb
