// xsmbctl limit: reads and changes the live limits in the pinned xsmb_limits map (the
// look-aside state xsmbd paces READ/WRITE and requests by; bpf/include/xsmb_abi.h
// struct xsmb_limit, docs/bpf.md "Live limits").
#pragma once

#include <string>
#include <vector>

namespace xsmb::xsmbctl {

// args: {"list"} or {"user"|"share", NAME, BYTES_PER_SEC [, REQUESTS_PER_SEC]} (rates as
// smb.conf takes them: "50M", "0" = none). A user or share without an entry yet gets one
// (xsmbd finds it at the next logon / start). Returns the process exit status (0, 1 error,
// 2 usage), messages on stderr, the list on stdout.
int limitCommand(const std::string& pin_dir, const std::vector<std::string>& args);

}  // namespace xsmb::xsmbctl
