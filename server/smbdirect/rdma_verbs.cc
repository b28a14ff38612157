#include "server/smbdirect/rdma_verbs.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace xsmb::smbdirect {
namespace {

constexpr int kSlabAccess = IBV_ACCESS_LOCAL_WRITE;
constexpr int kPoolAccess =
    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
constexpr uint64_t kSlotMask = (uint64_t{1} << 56) - 1;

absl::Status callFailed(const char* call) {
  return absl::UnavailableError(absl::StrCat(call, ": ", std::strerror(errno)));
}

uint32_t atLeastOne(uint64_t v, int cap) {
  uint64_t c = cap > 0 ? static_cast<uint64_t>(cap) : v;
  return static_cast<uint32_t>(std::max<uint64_t>(1, std::min(v, c)));
}

}  // namespace

QueueSizes queueSizes(const smbd::Limits& limits, const ibv_device_attr& device,
                      uint32_t rdma_depth) {
  QueueSizes q;
  q.recv_wr = atLeastOne(limits.receive_credit_max, device.max_qp_wr);
  q.rdma_wr = atLeastOne(rdma_depth, device.max_qp_wr / 2);
  // Sends and RDMA operations share the send queue.
  q.send_wr = atLeastOne(limits.send_credit_target, device.max_qp_wr - static_cast<int>(q.rdma_wr));
  q.cq_depth = atLeastOne(uint64_t{q.recv_wr} + q.send_wr + q.rdma_wr, device.max_cqe);
  q.max_rd_atomic = atLeastOne(16, device.max_qp_init_rd_atom);
  q.max_dest_rd_atomic = atLeastOne(16, device.max_qp_rd_atom);
  return q;
}

uint64_t encodeWrId(WrKind kind, uint32_t slot) {
  return (static_cast<uint64_t>(kind) << 56) | slot;
}

bool decodeWrId(uint64_t id, WrKind* kind, uint32_t* slot) {
  uint64_t k = id >> 56;
  if (k < static_cast<uint64_t>(WrKind::kRecv) || k > static_cast<uint64_t>(WrKind::kRdmaWrite) ||
      (id & kSlotMask) > UINT32_MAX) {
    return false;
  }
  *kind = static_cast<WrKind>(k);
  *slot = static_cast<uint32_t>(id & kSlotMask);
  return true;
}

Verbs::Completion toCompletion(const ibv_wc& wc, WrKind kind, uint64_t engine_wr_id) {
  using Kind = Verbs::Completion::Kind;
  Verbs::Completion c;
  c.kind = kind == WrKind::kRecv       ? Kind::kRecv
           : kind == WrKind::kSend     ? Kind::kSend
           : kind == WrKind::kRdmaRead ? Kind::kRdmaRead
                                       : Kind::kRdmaWrite;
  c.wr_id = engine_wr_id;
  c.ok = wc.status == IBV_WC_SUCCESS;
  c.byte_len = c.ok && kind == WrKind::kRecv ? wc.byte_len : 0;
  return c;
}

RdmaVerbs::RdmaVerbs(std::shared_ptr<RdmaLink> link, const smbd::Limits& limits,
                     RdmaCounters* counters)
    : link_(std::move(link)), id_(link_->id), limits_(limits), counters_(counters) {}

absl::StatusOr<std::unique_ptr<RdmaVerbs>> RdmaVerbs::create(std::shared_ptr<RdmaLink> link,
                                                             const smbd::Limits& limits,
                                                             RdmaCounters* counters) {
  std::unique_ptr<RdmaVerbs> v(new RdmaVerbs(std::move(link), limits, counters));
  absl::Status s = v->setUp();
  if (!s.ok()) {
    v->owns_id_ = false;  // the listener rejects and destroys the id it could not set up
    return s;
  }
  counters->connections_open.fetch_add(1, std::memory_order_relaxed);
  return v;
}

absl::Status RdmaVerbs::setUp() {
  ibv_context* ctx = id_->verbs;
  ibv_device_attr attr{};
  if (ibv_query_device(ctx, &attr) != 0) return callFailed("ibv_query_device");
  sizes_ = queueSizes(limits_, attr);
  send_invalidate_ = (attr.device_cap_flags & IBV_DEVICE_MEM_MGT_EXTENSIONS) != 0;
  if (!(pd_ = ibv_alloc_pd(ctx))) return callFailed("ibv_alloc_pd");
  if (!(channel_ = ibv_create_comp_channel(ctx))) return callFailed("ibv_create_comp_channel");
  int fl = fcntl(channel_->fd, F_GETFL);
  if (fl < 0 || fcntl(channel_->fd, F_SETFL, fl | O_NONBLOCK) != 0) return callFailed("fcntl");
  cq_ = ibv_create_cq(ctx, static_cast<int>(sizes_.cq_depth), nullptr, channel_, 0);
  if (!cq_) return callFailed("ibv_create_cq");
  if (ibv_req_notify_cq(cq_, 0) != 0) return callFailed("ibv_req_notify_cq");
  ibv_qp_init_attr qa{};
  qa.send_cq = cq_;
  qa.recv_cq = cq_;
  qa.qp_type = IBV_QPT_RC;
  qa.sq_sig_all = 1;  // every send completes: the engine frees its message on that
  qa.cap.max_send_wr = sizes_.send_wr + sizes_.rdma_wr;
  qa.cap.max_recv_wr = sizes_.recv_wr;
  qa.cap.max_send_sge = 1;
  qa.cap.max_recv_sge = 1;
  if (rdma_create_qp(id_, pd_, &qa) != 0) return callFailed("rdma_create_qp");
  qp_ = true;
  recv_slab_.resize(size_t{sizes_.recv_wr} * limits_.max_receive_size);
  send_slab_.resize(size_t{sizes_.send_wr} * limits_.max_send_size);
  recv_mr_ = ibv_reg_mr(pd_, recv_slab_.data(), recv_slab_.size(), kSlabAccess);
  if (!recv_mr_) return callFailed("ibv_reg_mr (receive slab)");
  send_mr_ = ibv_reg_mr(pd_, send_slab_.data(), send_slab_.size(), kSlabAccess);
  if (!send_mr_) return callFailed("ibv_reg_mr (send slab)");
  recv_slots_.resize(sizes_.recv_wr);
  send_slots_.resize(sizes_.send_wr);
  rdma_slots_.resize(sizes_.rdma_wr);
  for (uint32_t i = sizes_.recv_wr; i-- > 0;) free_recv_.push_back(i);
  for (uint32_t i = sizes_.send_wr; i-- > 0;) free_send_.push_back(i);
  for (uint32_t i = sizes_.rdma_wr; i-- > 0;) free_rdma_.push_back(i);
  return absl::OkStatus();
}

RdmaVerbs::~RdmaVerbs() {
  {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->alive = false;
  }
  if (owns_id_ && qp_ && !disconnected_) rdma_disconnect(id_);
  if (qp_) rdma_destroy_qp(id_);
  if (cq_) {
    if (unacked_events_) ibv_ack_cq_events(cq_, unacked_events_);
    ibv_destroy_cq(cq_);
  }
  if (channel_) ibv_destroy_comp_channel(channel_);
  for (auto& [addr, mr] : registrations_) ibv_dereg_mr(mr);
  if (recv_mr_) ibv_dereg_mr(recv_mr_);
  if (send_mr_) ibv_dereg_mr(send_mr_);
  if (pd_) ibv_dealloc_pd(pd_);
  if (owns_id_) {
    rdma_destroy_id(id_);  // waits until the listener acknowledged the id's last event
    counters_->connections_open.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool RdmaVerbs::postRecv(uint64_t wr_id, std::span<uint8_t> buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (disconnected_ || free_recv_.empty()) return false;
  uint32_t slot = free_recv_.back();
  ibv_sge sge{};
  sge.addr =
      reinterpret_cast<uintptr_t>(recv_slab_.data()) + size_t{slot} * limits_.max_receive_size;
  sge.length = limits_.max_receive_size;
  sge.lkey = recv_mr_->lkey;
  ibv_recv_wr wr{};
  wr.wr_id = encodeWrId(WrKind::kRecv, slot);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  if (ibv_post_recv(id_->qp, &wr, &bad) != 0) return false;
  free_recv_.pop_back();
  recv_slots_[slot] = {wr_id, buffer};
  counters_->receive_credits_granted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool RdmaVerbs::postSend(uint64_t wr_id, ByteSpan message) {
  std::lock_guard<std::mutex> lock(mu_);
  return postSendSlot(wr_id, message, false, 0);
}

bool RdmaVerbs::postSendInvalidate(uint64_t wr_id, ByteSpan message, uint32_t invalidate_token) {
  std::lock_guard<std::mutex> lock(mu_);
  return postSendSlot(wr_id, message, send_invalidate_, invalidate_token);
}

bool RdmaVerbs::postSendSlot(uint64_t wr_id, ByteSpan message, bool invalidate, uint32_t token) {
  if (disconnected_ || message.size() > limits_.max_send_size) return false;
  if (free_send_.empty() || !pending_sends_.empty()) {
    pending_sends_.push_back({wr_id, Bytes(message.begin(), message.end()), invalidate, token});
    return true;
  }
  return postSendNow(wr_id, message, invalidate, token);
}

bool RdmaVerbs::postSendNow(uint64_t wr_id, ByteSpan message, bool invalidate, uint32_t token) {
  uint32_t slot = free_send_.back();
  uint8_t* dst = send_slab_.data() + size_t{slot} * limits_.max_send_size;
  std::memcpy(dst, message.data(), message.size());
  ibv_sge sge{reinterpret_cast<uintptr_t>(dst), static_cast<uint32_t>(message.size()),
              send_mr_->lkey};
  ibv_send_wr wr{};
  wr.wr_id = encodeWrId(WrKind::kSend, slot);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = invalidate ? IBV_WR_SEND_WITH_INV : IBV_WR_SEND;
  wr.send_flags = IBV_SEND_SIGNALED;
  if (invalidate) wr.invalidate_rkey = token;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(id_->qp, &wr, &bad) != 0) return false;
  free_send_.pop_back();
  send_slots_[slot] = {wr_id};
  counters_->send_credits_used.fetch_add(1, std::memory_order_relaxed);
  if (invalidate) counters_->send_invalidates.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void RdmaVerbs::drainPendingSends() {
  while (!disconnected_ && !pending_sends_.empty() && !free_send_.empty()) {
    const PendingSend& p = pending_sends_.front();
    if (!postSendNow(p.wr_id, p.message, p.invalidate, p.token)) {
      // The device refused a send the engine counts as posted: end the connection, so that
      // everything posted completes as flushed and the engine sees the failure.
      disconnectLocked();
      return;
    }
    pending_sends_.pop_front();
  }
}

const ibv_mr* RdmaVerbs::findRegistration(const uint8_t* p, size_t n) const {
  auto it = registrations_.upper_bound(reinterpret_cast<uintptr_t>(p));
  if (it == registrations_.begin()) return nullptr;
  --it;
  const ibv_mr* mr = it->second;
  uintptr_t start = reinterpret_cast<uintptr_t>(mr->addr);
  uintptr_t at = reinterpret_cast<uintptr_t>(p);
  return at >= start && at - start <= mr->length && n <= mr->length - (at - start) ? mr : nullptr;
}

uint32_t RdmaVerbs::registerMemory(std::span<uint8_t> memory) {
  std::lock_guard<std::mutex> lock(mu_);
  ibv_mr* mr = ibv_reg_mr(pd_, memory.data(), memory.size(), kPoolAccess);
  if (!mr) {
    XLOG(WARNING) << "SMB Direct: ibv_reg_mr of " << memory.size()
                  << " bytes: " << std::strerror(errno);
    return 0;
  }
  registrations_[reinterpret_cast<uintptr_t>(memory.data())] = mr;
  return mr->rkey;
}

void RdmaVerbs::deregisterMemory(uint32_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = registrations_.begin(); it != registrations_.end(); ++it) {
    if (it->second->rkey == token) {
      ibv_dereg_mr(it->second);
      registrations_.erase(it);
      return;
    }
  }
}

bool RdmaVerbs::postRdmaWrite(uint64_t wr_id, ByteSpan local, uint64_t remote_offset,
                              uint32_t remote_token) {
  std::span<uint8_t> span(const_cast<uint8_t*>(local.data()), local.size());
  return postRdma(WrKind::kRdmaWrite, wr_id, span, remote_offset, remote_token);
}

bool RdmaVerbs::postRdmaRead(uint64_t wr_id, std::span<uint8_t> local, uint64_t remote_offset,
                             uint32_t remote_token) {
  return postRdma(WrKind::kRdmaRead, wr_id, local, remote_offset, remote_token);
}

bool RdmaVerbs::postRdma(WrKind kind, uint64_t wr_id, std::span<uint8_t> local,
                         uint64_t remote_offset, uint32_t remote_token) {
  std::lock_guard<std::mutex> lock(mu_);
  const ibv_mr* mr = findRegistration(local.data(), local.size());
  if (disconnected_ || !mr || free_rdma_.empty() || local.size() > UINT32_MAX) return false;
  uint32_t slot = free_rdma_.back();
  ibv_sge sge{reinterpret_cast<uintptr_t>(local.data()), static_cast<uint32_t>(local.size()),
              mr->lkey};
  ibv_send_wr wr{};
  wr.wr_id = encodeWrId(kind, slot);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = kind == WrKind::kRdmaRead ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = remote_offset;
  wr.wr.rdma.rkey = remote_token;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(id_->qp, &wr, &bad) != 0) return false;
  free_rdma_.pop_back();
  rdma_slots_[slot] = {wr_id, static_cast<uint32_t>(local.size())};
  return true;
}

Verbs::Completion RdmaVerbs::complete(const ibv_wc& wc) {
  WrKind kind{};
  uint32_t slot = 0;
  size_t slots = 0;
  if (decodeWrId(wc.wr_id, &kind, &slot)) {
    slots = kind == WrKind::kRecv   ? recv_slots_.size()
            : kind == WrKind::kSend ? send_slots_.size()
                                    : rdma_slots_.size();
  }
  if (slot >= slots) {  // not an id of ours: cannot happen unless the device misbehaves
    counters_->completion_errors.fetch_add(1, std::memory_order_relaxed);
    disconnectLocked();
    return Completion{Completion::Kind::kSend, 0, false, 0};
  }
  Completion c;
  auto relaxed = std::memory_order_relaxed;
  switch (kind) {
    case WrKind::kRecv: {
      RecvSlot r = recv_slots_[slot];
      free_recv_.push_back(slot);
      c = toCompletion(wc, kind, r.wr_id);
      if (c.ok && c.byte_len > r.buffer.size()) c.ok = false;  // larger than the engine posted
      if (c.ok) {
        std::memcpy(r.buffer.data(), recv_slab_.data() + size_t{slot} * limits_.max_receive_size,
                    c.byte_len);
        counters_->peer_credits_used.fetch_add(1, relaxed);
      }
      break;
    }
    case WrKind::kSend:
      c = toCompletion(wc, kind, send_slots_[slot].wr_id);
      free_send_.push_back(slot);
      drainPendingSends();
      break;
    case WrKind::kRdmaRead:
    case WrKind::kRdmaWrite: {
      RdmaSlot r = rdma_slots_[slot];
      free_rdma_.push_back(slot);
      c = toCompletion(wc, kind, r.wr_id);
      if (c.ok && kind == WrKind::kRdmaRead) {
        counters_->rdma_reads.fetch_add(1, relaxed);
        counters_->rdma_read_bytes.fetch_add(r.bytes, relaxed);
      } else if (c.ok) {
        counters_->rdma_writes.fetch_add(1, relaxed);
        counters_->rdma_write_bytes.fetch_add(r.bytes, relaxed);
      }
      break;
    }
  }
  if (!c.ok) {
    counters_->completion_errors.fetch_add(1, relaxed);
    XLOG(INFO) << "SMB Direct: work completion failed: " << ibv_wc_status_str(wc.status);
  }
  return c;
}

size_t RdmaVerbs::poll(std::span<Completion> out) {
  std::lock_guard<std::mutex> lock(mu_);
  ibv_wc wcs[kMaxBatch];
  int want = static_cast<int>(std::min(out.size(), kMaxBatch));
  int n = want > 0 ? ibv_poll_cq(cq_, want, wcs) : 0;
  if (n < 0) {
    disconnectLocked();
    return 0;
  }
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = complete(wcs[i]);
  return static_cast<size_t>(n);
}

int RdmaVerbs::completionFd() const { return channel_ ? channel_->fd : -1; }

void RdmaVerbs::ackEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  ibv_cq* cq = nullptr;
  void* ctx = nullptr;
  while (ibv_get_cq_event(channel_, &cq, &ctx) == 0) {
    ++unacked_events_;
    counters_->cq_wakeups.fetch_add(1, std::memory_order_relaxed);
  }
  // Acknowledging takes a mutex in libibverbs: done in batches rather than per event.
  if (unacked_events_ >= 16) {
    ibv_ack_cq_events(cq_, unacked_events_);
    unacked_events_ = 0;
  }
  ibv_req_notify_cq(cq_, 0);
}

rdma_conn_param RdmaVerbs::acceptParam(const rdma_conn_param& request) const {
  rdma_conn_param p{};
  p.initiator_depth = static_cast<uint8_t>(
      std::min<uint32_t>({sizes_.max_rd_atomic, request.responder_resources, 255}));
  p.responder_resources = static_cast<uint8_t>(
      std::min<uint32_t>({sizes_.max_dest_rd_atomic, request.initiator_depth, 255}));
  p.flow_control = 1;
  p.rnr_retry_count = 6;
  return p;
}

void RdmaVerbs::disconnect() {
  std::lock_guard<std::mutex> lock(mu_);
  disconnectLocked();
}

void RdmaVerbs::disconnectLocked() {
  if (disconnected_ || !owns_id_) return;
  disconnected_ = true;
  rdma_disconnect(id_);
}

}  // namespace xsmb::smbdirect
