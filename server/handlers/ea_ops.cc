#include "server/handlers/ea_ops.h"

#include <algorithm>

#include "common/base/unicode.h"
#include "server/vfs/ea.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t kReturnSingleEntry = 0x00000002;  // MS-SMB2 2.2.37 SL_RETURN_SINGLE_ENTRY

// The entries a list of names asks for: each as stored when it exists, else empty.
std::vector<vfs::FullEa> selectEas(const std::vector<vfs::FullEa>& all,
                                   const std::vector<std::string>& names) {
  std::vector<vfs::FullEa> out;
  for (const std::string& n : names) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const vfs::FullEa& e) { return equalsIgnoreCase(e.name, n); });
    if (it != all.end()) {
      out.push_back(*it);
    } else {
      vfs::FullEa missing;
      missing.name = n;
      out.push_back(std::move(missing));
    }
  }
  return out;
}

}  // namespace

NtStatus queryFullEaInfo(RequestContext& ctx, const session::Open& o, const QueryInfoRequest& req,
                         ResponseBody& body) {
  if (!(o.granted_access & FILE_READ_EA)) return STATUS_ACCESS_DENIED;
  std::vector<vfs::FullEa> eas;
  if (NtStatus st = vfs::readEas(o.metaFd(), &eas); st != STATUS_SUCCESS) return st;
  if (!req.input.empty()) {
    std::vector<std::string> names;
    if (NtStatus st = vfs::parseGetEaList(req.input, &names); st != STATUS_SUCCESS) return st;
    eas = selectEas(eas, names);
  } else if (eas.empty()) {
    return STATUS_NO_EAS_ON_FILE;
  }
  if ((req.flags & kReturnSingleEntry) && eas.size() > 1) eas.resize(1);
  size_t limit = std::min<size_t>(req.output_buffer_length, ctx.conn->max_transact_size);
  Bytes out;
  size_t n = vfs::encodeFullEaList(eas, limit, &out);
  if (n == 0) return STATUS_BUFFER_TOO_SMALL;
  body = QueryInfoResponse{std::move(out)};
  return n < eas.size() ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

NtStatus setFullEaInfo(const session::Open& o, ByteSpan buf) {
  if (!(o.granted_access & FILE_WRITE_EA)) return STATUS_ACCESS_DENIED;
  std::vector<vfs::FullEa> eas;
  if (NtStatus st = vfs::parseFullEaList(buf, &eas); st != STATUS_SUCCESS) return st;
  return vfs::writeEas(o.metaFd(), eas);
}

NtStatus checkCreateEaBuffer(const CreateRequest& req) {
  for (const CreateContext& c : req.contexts) {
    if (c.name != "ExtA") continue;
    std::vector<vfs::FullEa> eas;
    return vfs::parseFullEaList(c.data, &eas);
  }
  return STATUS_SUCCESS;
}

NtStatus applyCreateEaBuffer(const session::Open& o, ByteSpan data) {
  std::vector<vfs::FullEa> eas;
  if (NtStatus st = vfs::parseFullEaList(data, &eas); st != STATUS_SUCCESS) return st;
  return vfs::writeEas(o.metaFd(), eas);
}

}  // namespace xsmb::handlers
