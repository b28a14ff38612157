// The Verbs interface (verbs.h) on one rdma-core reliable connection: the protection domain,
// completion channel, completion queue and RC queue pair of one accepted rdma_cm_id, with
// memory registered for the messages and for the RDMA Read/Write pool.
//
// Messages (MS-SMBD 2.2.1-2.2.3, at most MaxSendSize / MaxReceiveSize bytes, 1364 by default)
// go through two slabs registered once per connection (ibv_reg_mr(3)): a receive completes
// into its slab slot and is copied into the engine's buffer; a send is copied into a slab slot
// and posted from there. A copy of at most a few KiB costs less than registering the engine's
// own buffers, and the device can never write into memory the engine has freed. Bulk data
// (SMB2 READ/WRITE through RDMA channels, MS-SMBD 3.1.4.3 / 3.1.4.4) moves with RDMA Write and
// RDMA Read straight from and into memory registered with registerMemory(), without a copy.
//
// Completions are reaped in batches: poll() asks ibv_poll_cq(3) for as many as its caller has
// room for (at most kMaxBatch per call), so one wake-up of the completion channel
// (ibv_get_cq_event(3)) serves every completion that arrived meanwhile.
//
// Thread-safe (one mutex): the SMB Direct worker's loop posts messages and polls, while READ
// and WRITE handlers on pool threads register memory and post RDMA Reads and Writes
// (smbd_worker.h). Built only with rdma-core.
#pragma once

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/bytes.h"
#include "common/smbd/smbd.h"
#include "server/smbdirect/rdma_stats.h"
#include "server/smbdirect/verbs.h"

namespace xsmb::smbdirect {

// What the listener thread and a connection share: the cm id, and whether the connection
// still owns its queue pair. The listener calls rdma_disconnect(3) on RDMA_CM_EVENT_DISCONNECTED
// under `mu` only while `alive` (that moves the QP to the error state, so every posted work
// request completes with IBV_WC_WR_FLUSH_ERR and the engine sees the end).
struct RdmaLink {
  std::mutex mu;
  rdma_cm_id* id = nullptr;
  bool alive = true;
};

// Work request and completion queue depths of one connection (ibv_qp_cap, ibv_create_cq(3)).
struct QueueSizes {
  uint32_t recv_wr = 0;             // receives posted at once: the receive credits offered
  uint32_t send_wr = 0;             // message sends in flight: the send credits asked for
  uint32_t rdma_wr = 0;             // RDMA Read/Write work requests in flight
  uint32_t cq_depth = 0;            // recv_wr + send_wr + rdma_wr
  uint32_t max_rd_atomic = 0;       // RDMA Reads this side has outstanding (max_qp_init_rd_atom)
  uint32_t max_dest_rd_atomic = 0;  // RDMA Reads of the peer served at once (max_qp_rd_atom)
};
// From the credits and sizes this side offers (MS-SMBD 3.1.1.1: ReceiveCreditMax,
// SendCreditTarget) and the device's limits (ibv_query_device(3): max_qp_wr, max_cqe,
// max_qp_init_rd_atom); every depth at least 1.
inline constexpr uint32_t kDefaultRdmaDepth = 32;  // RDMA work requests per connection
QueueSizes queueSizes(const smbd::Limits& limits, const ibv_device_attr& device,
                      uint32_t rdma_depth = kDefaultRdmaDepth);

// The 64-bit wr_id this backend posts with: what the operation was (its slot table) in the top
// byte, the slot in the rest; the engine's own wr_id is kept in the slot. A failed work
// completion's opcode is undefined (ibv_poll_cq(3)), so the kind must come from the id.
enum class WrKind : uint8_t { kRecv = 1, kSend = 2, kRdmaRead = 3, kRdmaWrite = 4 };
uint64_t encodeWrId(WrKind kind, uint32_t slot);
// false when the id was never made by encodeWrId.
bool decodeWrId(uint64_t id, WrKind* kind, uint32_t* slot);

// A work completion as the engine sees it (ok only for IBV_WC_SUCCESS); `kind` and `wr_id`
// come from the slot the completion's wr_id names.
Verbs::Completion toCompletion(const ibv_wc& wc, WrKind kind, uint64_t engine_wr_id);

class RdmaVerbs : public Verbs {
 public:
  static constexpr size_t kMaxBatch = 64;  // completions per ibv_poll_cq(3) call

  // Sets up everything for the connection request `link->id` (whose ibv_context is id->verbs):
  // ibv_alloc_pd(3), ibv_create_comp_channel(3) (non-blocking), ibv_create_cq(3) armed with
  // ibv_req_notify_cq(3), rdma_create_qp(3) (RC), and the two registered slabs. The error
  // names the call that failed. `counters` outlives the connection.
  static absl::StatusOr<std::unique_ptr<RdmaVerbs>> create(std::shared_ptr<RdmaLink> link,
                                                           const smbd::Limits& limits,
                                                           RdmaCounters* counters);
  // Disconnects if still connected, destroys the QP, CQ, channel, registrations, PD and the
  // cm id (rdma_destroy_id(3)), in that order.
  ~RdmaVerbs() override;

  // Verbs (verbs.h). ibv_post_recv(3) / ibv_post_send(3); false when no slot is free or the
  // device refused. A send beyond the send slots waits in a queue and is posted as earlier
  // sends complete.
  bool postRecv(uint64_t wr_id, std::span<uint8_t> buffer) override;
  bool postSend(uint64_t wr_id, ByteSpan message) override;
  size_t poll(std::span<Completion> out) override;

  // The completion channel's descriptor (readable when an event is due), and the
  // acknowledgement of what woke it: ibv_get_cq_event(3) until none, ibv_ack_cq_events(3),
  // ibv_req_notify_cq(3) re-armed. Poll after it: completions that came before re-arming
  // raise no event.
  int completionFd() const override;
  void ackEvents() override;
  // ibv_reg_mr(3) with local write, remote read and remote write access: the rkey, which names
  // the memory to the peer (MS-SMBD 2.2.3.1 Buffer Descriptor V1 Token); 0 when refused.
  uint32_t registerMemory(std::span<uint8_t> memory) override;
  void deregisterMemory(uint32_t token) override;  // ibv_dereg_mr(3)
  // IBV_WR_RDMA_WRITE of `local` (inside registered memory) to the peer's `remote_token` at
  // address `remote_offset`, and IBV_WR_RDMA_READ of local.size() bytes from there into
  // `local` (MS-SMBD 3.1.4.3 / 3.1.4.4, the descriptor's Offset and Token). False when `local`
  // is not registered here, no RDMA slot is free, or the device refused.
  bool postRdmaWrite(uint64_t wr_id, ByteSpan local, uint64_t remote_offset,
                     uint32_t remote_token) override;
  bool postRdmaRead(uint64_t wr_id, std::span<uint8_t> local, uint64_t remote_offset,
                    uint32_t remote_token) override;
  // IBV_WR_SEND_WITH_INV (MS-SMBD 3.1.4.2 / MS-SMB2 3.3.5.12, SMB2_CHANNEL_RDMA_V1_INVALIDATE):
  // the peer's registration `invalidate_token` ends as the message lands. A device without
  // IBV_DEVICE_MEM_MGT_EXTENSIONS sends plainly (the client then invalidates it itself).
  bool postSendInvalidate(uint64_t wr_id, ByteSpan message, uint32_t invalidate_token) override;
  void disconnect() override;  // rdma_disconnect(3), once

  // The rdma_accept(3) parameters for the client's `request`: initiator_depth (RDMA Reads this
  // side issues, the data of WRITEs) at most what the client's responder_resources allow and
  // the device can, responder_resources likewise; flow control on; 6 RNR retries (finite, not
  // 7 = forever: a peer that sends without a credit must end in an error, MS-SMBD 3.1.5.8).
  rdma_conn_param acceptParam(const rdma_conn_param& request) const;

 private:
  RdmaVerbs(std::shared_ptr<RdmaLink> link, const smbd::Limits& limits, RdmaCounters* counters);
  absl::Status setUp();
  bool postSendSlot(uint64_t wr_id, ByteSpan message, bool invalidate, uint32_t token);
  bool postSendNow(uint64_t wr_id, ByteSpan message, bool invalidate, uint32_t token);
  bool postRdma(WrKind kind, uint64_t wr_id, std::span<uint8_t> local, uint64_t remote_offset,
                uint32_t remote_token);
  const ibv_mr* findRegistration(const uint8_t* p, size_t n) const;
  Completion complete(const ibv_wc& wc);
  void drainPendingSends();
  void disconnectLocked();

  struct RecvSlot {
    uint64_t wr_id = 0;
    std::span<uint8_t> buffer;
  };
  struct SendSlot {
    uint64_t wr_id = 0;
  };
  struct RdmaSlot {
    uint64_t wr_id = 0;
    uint32_t bytes = 0;
  };
  struct PendingSend {
    uint64_t wr_id;
    Bytes message;
    bool invalidate;
    uint32_t token;
  };

  mutable std::mutex mu_;  // guards the state below but what setUp() fixes
  std::shared_ptr<RdmaLink> link_;
  rdma_cm_id* id_;
  smbd::Limits limits_;
  RdmaCounters* counters_;
  QueueSizes sizes_;
  bool send_invalidate_ = false;  // the device can IBV_WR_SEND_WITH_INV
  bool disconnected_ = false;
  bool owns_id_ = true;  // false when set-up failed: the listener still owns the cm id
  ibv_pd* pd_ = nullptr;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  bool qp_ = false;  // rdma_create_qp succeeded (id_->qp)
  std::vector<uint8_t> recv_slab_, send_slab_;
  ibv_mr* recv_mr_ = nullptr;
  ibv_mr* send_mr_ = nullptr;
  std::vector<RecvSlot> recv_slots_;
  std::vector<SendSlot> send_slots_;
  std::vector<RdmaSlot> rdma_slots_;
  std::vector<uint32_t> free_recv_, free_send_, free_rdma_;
  std::deque<PendingSend> pending_sends_;
  std::map<uintptr_t, ibv_mr*> registrations_;  // by start address (registerMemory)
  unsigned unacked_events_ = 0;
};

}  // namespace xsmb::smbdirect
