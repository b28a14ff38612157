// Extended attributes in the command handlers: QUERY_INFO and SET_INFO of FileFullEaInformation
// (MS-SMB2 3.3.5.20.1, 3.3.5.21.1; MS-FSCC 2.4.15, 2.4.16), FileEaInformation's size (2.4.13) and
// the SMB2_CREATE_EA_BUFFER create context ("ExtA", MS-SMB2 2.2.13.2.1). Storage: vfs/ea.h.
#pragma once

#include <cstdint>

#include "common/smb2/messages.h"
#include "common/smb2/ntstatus.h"
#include "server/handlers/handler.h"

namespace xsmb::handlers {

// QUERY_INFO FileFullEaInformation: needs FILE_READ_EA. Without an input list, every EA
// (STATUS_NO_EAS_ON_FILE when there is none); with a FILE_GET_EA_INFORMATION list, one entry per
// name asked for, in that order, an EA that does not exist with an empty value. Whole entries
// up to OutputBufferLength: STATUS_BUFFER_TOO_SMALL when not even one fits, STATUS_BUFFER_OVERFLOW
// with the entries that fit otherwise; SL_RETURN_SINGLE_ENTRY returns the first only.
NtStatus queryFullEaInfo(RequestContext& ctx, const session::Open& o,
                         const smb2::QueryInfoRequest& req, smb2::ResponseBody& body);
// SET_INFO FileFullEaInformation: needs FILE_WRITE_EA; the whole list is checked before any EA is
// set (STATUS_EA_LIST_INCONSISTENT, STATUS_INVALID_EA_NAME); an empty value removes the EA.
NtStatus setFullEaInfo(const session::Open& o, ByteSpan buf);

// CREATE: the EA buffer context, if any, checked before anything is opened.
NtStatus checkCreateEaBuffer(const smb2::CreateRequest& req);
// CREATE: the EAs of the context set on a file the request created, overwrote or superseded.
NtStatus applyCreateEaBuffer(const session::Open& o, ByteSpan data);

}  // namespace xsmb::handlers
