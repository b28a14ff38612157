// Requests that went async (MS-SMB2 3.3.4.2, 3.3.5.16): registration, completion, CANCEL and
// cleanup. See AsyncOp in state.h.
#include <vector>

#include "server/session/replies.h"
#include "server/session/state.h"

namespace xsmb::session {
namespace {

// Takes `op` back for `why` and answers it, unless it completed meanwhile (its completion is
// then on the way to the strand and answers it) or the connection is gone.
void endOp(ConnState& conn, const std::shared_ptr<AsyncOp>& op, AsyncEnd why) {
  if (!op->done) {
    std::optional<NtStatus> st =
        op->withdraw ? op->withdraw(why) : std::optional<NtStatus>(STATUS_CANCELLED);
    if (why != AsyncEnd::kDisconnect) {
      if (st) conn.completeAsync(op, *st, {});
      return;
    }
    op->done = true;
  }
  conn.async_ops.erase(op->reply.async_id);
}

}  // namespace

std::shared_ptr<AsyncOp> ConnState::beginAsync(const AsyncReply& reply, uint32_t tree_id,
                                               uint64_t volatile_id) {
  auto op = std::make_shared<AsyncOp>();
  op->reply = reply;
  op->reply.async_id = next_async_id++;
  op->tree_id = tree_id;
  op->volatile_id = volatile_id;
  op->run_in_strand = run_in_strand;  // not shared yet: no lock needed
  async_ops[op->reply.async_id] = op;
  return op;
}

void ConnState::completeAsync(const std::shared_ptr<AsyncOp>& op, NtStatus status,
                              const smb2::ResponseBody& body) {
  auto it = async_ops.find(op->reply.async_id);
  if (it != async_ops.end() && it->second == op) async_ops.erase(it);
  if (op->done) return;
  op->done = true;
  if (destroying) return;
  Bytes msg = buildAsyncResponse(op->reply, status, body);
  if (op->reply.send_on_channel) {
    op->reply.send_on_channel(std::move(msg));  // multichannel: the request's own channel
  } else {
    sendUnsolicited(std::move(msg));
  }
}

void ConnState::dropAsync(const std::shared_ptr<AsyncOp>& op) {
  op->done = true;
  auto it = async_ops.find(op->reply.async_id);
  if (it != async_ops.end() && it->second == op) async_ops.erase(it);
}

void ConnState::completeAsyncFrom(std::shared_ptr<AsyncOp> op, NtStatus status,
                                  smb2::ResponseBody body) {
  // Copied first: the task owns `op`, whose member is the function being called.
  std::function<void(std::function<void(ConnState&)>)> run;
  {
    std::lock_guard<std::mutex> lock(op->strand_mu);
    run = op->run_in_strand;
  }
  if (!run) return;
  // On the strand, the final response follows the interim one: the request that went async
  // was still being answered while it registered the op.
  run([op = std::move(op), status, body = std::move(body)](ConnState& s) {
    s.completeAsync(op, status, body);
  });
}

bool ConnState::cancelAsync(bool async, uint64_t async_id, uint64_t message_id) {
  std::shared_ptr<AsyncOp> op;
  if (async) {
    auto it = async_ops.find(async_id);
    if (it != async_ops.end()) op = it->second;
  } else {
    for (const auto& [id, o] : async_ops) {
      if (o->reply.message_id == message_id) {
        op = o;
        break;
      }
    }
  }
  if (!op) return false;
  endOp(*this, op, AsyncEnd::kCancel);
  return true;
}

void ConnState::endAsync(uint64_t session_id, uint32_t tree_id, uint64_t volatile_id,
                         AsyncEnd why) {
  std::vector<std::shared_ptr<AsyncOp>> ending;  // endOp changes async_ops
  for (const auto& [id, op] : async_ops) {
    bool match = volatile_id ? op->volatile_id == volatile_id
                             : op->reply.session_id == session_id &&
                                   (tree_id == 0 || op->tree_id == tree_id);
    if (match) ending.push_back(op);
  }
  for (const auto& op : ending) endOp(*this, op, why);
}

void ConnState::endAllAsync() {
  while (!async_ops.empty()) endOp(*this, async_ops.begin()->second, AsyncEnd::kDisconnect);
}

}  // namespace xsmb::session
