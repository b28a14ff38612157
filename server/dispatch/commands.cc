#include "server/dispatch/commands.h"

#include "common/smb2/constants.h"

namespace xsmb::dispatch {
namespace {

using namespace handlers;

// Indexed by Command (MS-SMB2 2.2.1.2).
constexpr CommandInfo kCommands[smb2::kNumCommands] = {
    {handleNegotiate, false, false, false},     // NEGOTIATE
    {handleSessionSetup, false, false, false},  // SESSION_SETUP
    {handleLogoff, true, false, true},          // LOGOFF (closes opens: delete-on-close)
    {handleTreeConnect, true, false, false},    // TREE_CONNECT
    {handleTreeDisconnect, true, true, true},   // TREE_DISCONNECT
    {handleCreate, true, true, true},           // CREATE
    {handleClose, true, true, true},            // CLOSE
    {handleFlush, true, true, false},           // FLUSH (an open descriptor)
    {handleRead, true, true, false},            // READ
    {handleWrite, true, true, false},           // WRITE
    {handleLock, true, true, false},            // LOCK
    {handleIoctl, true, true, true},            // IOCTL
    {nullptr, false, false, false},             // CANCEL: handled before dispatch
    {handleEcho, false, false, false},          // ECHO
    {handleQueryDirectory, true, true, true},   // QUERY_DIRECTORY
    {handleChangeNotify, true, true, true},     // CHANGE_NOTIFY
    {handleQueryInfo, true, true, true},        // QUERY_INFO
    {handleSetInfo, true, true, true},          // SET_INFO
    {handleOplockBreak, true, true, false},     // OPLOCK_BREAK
};

}  // namespace

const CommandInfo* commandInfo(uint16_t command) {
  return command < smb2::kNumCommands ? &kCommands[command] : nullptr;
}

}  // namespace xsmb::dispatch
