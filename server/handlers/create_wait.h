// A CREATE that must wait for an oplock or lease break acknowledgment (MS-SMB2 3.3.4.2,
// 3.3.5.9): it answers an interim STATUS_PENDING at once, and is run again, on its connection's
// strand, each time a break of the file progresses (acknowledged, timed out, holder closed),
// until it completes; its final response then goes out as an async response.
#pragma once

#include "server/handlers/handler.h"
#include "server/vfs/file_table.h"

namespace xsmb::handlers {

// Registers the retry of the CREATE in `ctx` for when a break of file `k` progresses, sets
// ctx.async_id (a retry keeps its first one) and returns STATUS_PENDING.
NtStatus goAsyncForBreak(RequestContext& ctx, const vfs::FileTable::Key& k);

}  // namespace xsmb::handlers
