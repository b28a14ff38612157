#include "server/transport/xsk/xsk_socket.h"

#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace xsmb::xsk {
namespace {

constexpr size_t kBatch = 64;  // RX descriptors taken per receive() round

absl::Status xskError(const std::string& what, int err) {
  if (err < 0) err = -err;
  std::string text = absl::StrCat(what, ": ", std::strerror(err));
  if (err == EPERM || err == EACCES) return absl::PermissionDeniedError(text);
  if (err == EOPNOTSUPP) return absl::UnimplementedError(text);
  return absl::InternalError(text);
}

bool powerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// One writer: a plain increment published for readers on other threads, no locked RMW.
void bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

// ---- XskQueue

absl::StatusOr<std::unique_ptr<XskQueue>> XskQueue::open(const XskOptions& options) {
  if (options.workers == 0 || !powerOfTwo(options.ring_size) || !powerOfTwo(options.frame_size) ||
      options.frame_size < 2048 || options.frames < 2) {
    return absl::InvalidArgumentError("XSK options: workers >= 1, power-of-two ring and frame sizes");
  }
  std::unique_ptr<XskQueue> q(new XskQueue());
  q->options_ = options;
  absl::Status st = q->createUmem();
  if (!st.ok()) return st;
  if (options.mode != BindMode::kCopy) {
    st = q->bindFirst(XDP_ZEROCOPY);
    q->zero_copy_ = st.ok();
    if (!st.ok() && options.mode == BindMode::kZeroCopy) return st;
  }
  if (!q->zero_copy_) {
    if (options.mode == BindMode::kAuto) {
      // The refused bind left the UMEM's rings set up on its socket: start over.
      q->destroyUmem(true);
      st = q->createUmem();
      if (!st.ok()) return st;
    }
    st = q->bindFirst(XDP_COPY);
    if (!st.ok()) return st;
  }
  st = q->bindRest();
  if (!st.ok()) return st;
  // Every RX frame goes to the fill ring; the rest wait for sends.
  uint32_t rx_frames = std::min(options.frames / 2, options.ring_size);
  std::vector<uint64_t> rx;
  for (uint32_t i = 0; i < rx_frames; i++) rx.push_back(uint64_t{i} * options.frame_size);
  q->fillFrames(rx.data(), rx.size());
  for (uint32_t i = rx_frames; i < options.frames; i++) {
    q->free_tx_.push_back(uint64_t{i} * options.frame_size);
  }
  return q;
}

absl::Status XskQueue::createUmem() {
  if (area_ == nullptr) {
    area_len_ = size_t{options_.frames} * options_.frame_size;
    void* p = mmap(nullptr, area_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return xskError("mmap of the UMEM area", errno);
    area_ = p;
  }
  xsk_umem_config cfg{};
  cfg.fill_size = options_.ring_size;
  cfg.comp_size = options_.ring_size;
  cfg.frame_size = options_.frame_size;
  cfg.frame_headroom = 0;
  cfg.flags = 0;
  int err = xsk_umem__create(&umem_, area_, area_len_, &fill_, &comp_, &cfg);
  if (err != 0) {
    umem_ = nullptr;
    return xskError("xsk_umem__create", err);
  }
  return absl::OkStatus();
}

absl::Status XskQueue::bindFirst(uint32_t bind_flags) {
  std::unique_ptr<XskSocket> s(new XskSocket(this));
  xsk_socket_config cfg{};
  cfg.rx_size = options_.ring_size;
  cfg.tx_size = options_.ring_size;
  cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  cfg.bind_flags = static_cast<uint16_t>(bind_flags | XDP_USE_NEED_WAKEUP);
  int err = xsk_socket__create(&s->xsk_, options_.ifname.c_str(), options_.queue, umem_, &s->rx_,
                               &s->tx_, &cfg);
  if (err != 0) {
    s->xsk_ = nullptr;
    return xskError(absl::StrCat("binding an XSK to ", options_.ifname, " queue ", options_.queue,
                                 bind_flags == XDP_ZEROCOPY ? " (zero-copy)" : " (copy)"),
                    err);
  }
  sockets_.push_back(std::move(s));
  return absl::OkStatus();
}

// The other workers' sockets share the UMEM and its rings (XDP_SHARED_UMEM).
absl::Status XskQueue::bindRest() {
  for (uint32_t w = 1; w < options_.workers; w++) {
    std::unique_ptr<XskSocket> s(new XskSocket(this));
    xsk_socket_config cfg{};
    cfg.rx_size = options_.ring_size;
    cfg.tx_size = options_.ring_size;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    int err = xsk_socket__create(&s->xsk_, options_.ifname.c_str(), options_.queue, umem_,
                                 &s->rx_, &s->tx_, &cfg);
    if (err != 0) {
      s->xsk_ = nullptr;
      return xskError(absl::StrCat("binding worker ", w, "'s XSK (shared UMEM)"), err);
    }
    sockets_.push_back(std::move(s));
  }
  return absl::OkStatus();
}

void XskQueue::destroyUmem(bool unmap_rings) {
  if (umem_ == nullptr) return;
  if (unmap_rings) {
    // A failed bind leaves the fill and completion rings mapped (libxdp unmaps them with the
    // last socket only): unmap them here, at the offsets the kernel reports.
    xdp_mmap_offsets off{};
    socklen_t len = sizeof(off);
    if (getsockopt(xsk_umem__fd(umem_), SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) == 0) {
      munmap(static_cast<uint8_t*>(fill_.ring) - off.fr.desc,
             off.fr.desc + options_.ring_size * sizeof(uint64_t));
      munmap(static_cast<uint8_t*>(comp_.ring) - off.cr.desc,
             off.cr.desc + options_.ring_size * sizeof(uint64_t));
    }
  }
  xsk_umem__delete(umem_);
  umem_ = nullptr;
  fill_ = {};
  comp_ = {};
}

XskQueue::~XskQueue() {
  sockets_.clear();  // the last one unmaps the shared rings
  destroyUmem(false);
  if (area_ != nullptr) munmap(area_, area_len_);
}

void XskQueue::fillFrames(const uint64_t* addrs, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t idx = 0;
  // Never short: the fill ring holds every RX frame (rx frames <= ring size).
  size_t got = xsk_ring_prod__reserve(&fill_, static_cast<uint32_t>(n), &idx);
  for (size_t i = 0; i < got; i++) *xsk_ring_prod__fill_addr(&fill_, idx + i) = addrs[i];
  xsk_ring_prod__submit(&fill_, static_cast<uint32_t>(got));
}

bool XskQueue::takeTxFrame(uint64_t* addr) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t idx = 0;
  size_t done = xsk_ring_cons__peek(&comp_, options_.ring_size, &idx);
  for (size_t i = 0; i < done; i++) free_tx_.push_back(*xsk_ring_cons__comp_addr(&comp_, idx + i));
  xsk_ring_cons__release(&comp_, static_cast<uint32_t>(done));
  if (free_tx_.empty()) return false;
  *addr = free_tx_.back();
  free_tx_.pop_back();
  return true;
}

// ---- XskSocket

XskSocket::~XskSocket() {
  if (xsk_ != nullptr) xsk_socket__delete(xsk_);
}

int XskSocket::fd() const { return xsk_socket__fd(xsk_); }

size_t XskSocket::receive(size_t max, const std::function<void(const UdpFrame&)>& fn) {
  uint64_t addrs[kBatch];
  uint32_t idx = 0;
  size_t n = xsk_ring_cons__peek(&rx_, static_cast<uint32_t>(std::min(max, kBatch)), &idx);
  if (n == 0) {
    // With XDP_USE_NEED_WAKEUP the kernel waits for a syscall before it uses the fill ring.
    if (xsk_ring_prod__needs_wakeup(&queue_->fill_)) {
      recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
    return 0;
  }
  uint32_t frame_size = queue_->options_.frame_size;
  for (size_t i = 0; i < n; i++) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, idx + static_cast<uint32_t>(i));
    auto f = parseUdpFrame(ByteSpan(static_cast<uint8_t*>(queue_->frameData(d->addr)), d->len));
    if (f.ok()) {
      bump(own_.rx_datagrams);
      fn(*f);
    } else {
      bump(own_.rx_not_udp);
    }
    addrs[i] = d->addr - d->addr % frame_size;  // aligned mode: back to the frame's start
  }
  xsk_ring_cons__release(&rx_, static_cast<uint32_t>(n));
  queue_->fillFrames(addrs, n);
  // Zero-copy drivers may ask for a kick to take the frames just given back
  // (Documentation/networking/af_xdp.rst, XDP_USE_NEED_WAKEUP); copy mode never asks.
  if (xsk_ring_prod__needs_wakeup(&queue_->fill_)) {
    recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  }
  return n;
}

bool XskSocket::waitReadable(int timeout_ms) {
  if (xsk_cons_nb_avail(&rx_, 1) > 0) return true;
  pollfd p = {fd(), POLLIN, 0};
  return poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN);
}

absl::Status XskSocket::send(const UdpFrameHeader& h, ByteSpan payload) {
  uint32_t frame_size = queue_->options_.frame_size;
  if (udpFrameSize(h, payload.size()) > frame_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("UDP frame of ", udpFrameSize(h, payload.size()), " bytes > UMEM frame"));
  }
  uint64_t addr = 0;
  if (!queue_->takeTxFrame(&addr)) {
    bump(own_.tx_no_frame);
    return absl::ResourceExhaustedError("no free UMEM frame for a send");
  }
  auto built = buildUdpFrame(
      h, payload, std::span<uint8_t>(static_cast<uint8_t*>(queue_->frameData(addr)), frame_size));
  uint32_t idx = 0;
  if (!built.ok() || xsk_ring_prod__reserve(&tx_, 1, &idx) != 1) {
    std::lock_guard<std::mutex> lock(queue_->mu_);
    queue_->free_tx_.push_back(addr);
    if (!built.ok()) return built.status();
    bump(own_.tx_no_frame);
    return absl::ResourceExhaustedError("TX ring full");
  }
  xdp_desc* d = xsk_ring_prod__tx_desc(&tx_, idx);
  d->addr = addr;
  d->len = static_cast<uint32_t>(*built);
  d->options = 0;
  xsk_ring_prod__submit(&tx_, 1);
  bump(own_.tx_datagrams);
  // Copy mode transmits inside sendto; zero-copy only when the driver asks for a wakeup.
  if (!queue_->zero_copy_ || xsk_ring_prod__needs_wakeup(&tx_)) {
    sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
  }
  return absl::OkStatus();
}

XskStats XskSocket::stats() const {
  XskStats s;
  s.rx_datagrams = own_.rx_datagrams.load(std::memory_order_relaxed);
  s.rx_not_udp = own_.rx_not_udp.load(std::memory_order_relaxed);
  s.tx_datagrams = own_.tx_datagrams.load(std::memory_order_relaxed);
  s.tx_no_frame = own_.tx_no_frame.load(std::memory_order_relaxed);
  xdp_statistics k{};
  socklen_t len = sizeof(k);
  if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &k, &len) == 0) {
    s.rx_dropped = k.rx_dropped;
    s.rx_invalid_descs = k.rx_invalid_descs;
    s.tx_invalid_descs = k.tx_invalid_descs;
    s.rx_ring_full = k.rx_ring_full;
    s.rx_fill_ring_empty = k.rx_fill_ring_empty_descs;
    s.tx_ring_empty = k.tx_ring_empty_descs;
  }
  return s;
}

}  // namespace xsmb::xsk
