// startSmbDirect for a build without rdma-core (CMake found no libibverbs / librdmacm).
#include "server/smbdirect/rdma_start.h"

namespace xsmb::smbdirect {

RdmaStart startSmbDirect(const RdmaSettings& settings, ConnectionHandler /*handler*/,
                         RdmaCounters* counters) {
  RdmaStart out;
  if (settings.mode == RdmaSettings::Mode::kNo) return out;
  const char* why = "xsmbd was built without rdma-core (libibverbs-dev, librdmacm-dev)";
  counters->setState(std::string(why) + "; serving TCP only");
  out.log_line = std::string("SMB Direct: ") + why + "; serving TCP only";
  return out;
}

}  // namespace xsmb::smbdirect
