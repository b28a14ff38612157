// AF_XDP sockets for the QUIC transport's AF_XDP mode (Documentation/networking/af_xdp.rst),
// through libxdp's xsk API (<xdp/xsk.h>).
//
// One XskQueue per (interface, receive queue): the UMEM (frames in one mmapped area) with its
// fill and completion rings, and one XSK per worker on that queue with its own RX and TX rings.
// The kernel lets several sockets bind one queue only by sharing that queue's UMEM
// (XDP_SHARED_UMEM: one fill ring and one completion ring for all of them), so the fill and
// completion rings are guarded by the queue's mutex; each worker's RX and TX rings are its
// own (single producer / single consumer, no lock).
//
// The XDP program (bpf/xsmb_quic.bpf.c) redirects a datagram to worker w's socket on the queue
// it arrived on: QuicSteering::setXsk(queue, w, socket(w).fd()).
#pragma once

#include <xdp/xsk.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/transport/xsk/udp_frame.h"

namespace xsmb::xsk {

enum class BindMode {
  kAuto,      // XDP_ZEROCOPY, and XDP_COPY where the driver has no zero-copy (veth)
  kZeroCopy,  // XDP_ZEROCOPY only (an error where the driver lacks it)
  kCopy,      // XDP_COPY
};

struct XskOptions {
  std::string ifname;
  uint32_t queue = 0;                               // receive queue id
  uint32_t workers = 1;                             // one XSK each
  uint32_t frames = 4096;                           // UMEM frames (half RX, half TX)
  uint32_t frame_size = XSK_UMEM__DEFAULT_FRAME_SIZE;  // bytes, a power of two >= 2048
  uint32_t ring_size = 2048;                        // every ring (a power of two)
  BindMode mode = BindMode::kAuto;
};

// Ring counters of one XSK: the kernel's (struct xdp_statistics, getsockopt XDP_STATISTICS)
// and this side's.
struct XskStats {
  uint64_t rx_dropped = 0;          // kernel: dropped for other reasons than invalid descriptors
  uint64_t rx_invalid_descs = 0;    // kernel
  uint64_t tx_invalid_descs = 0;    // kernel
  uint64_t rx_ring_full = 0;        // kernel: dropped because the RX ring was full
  uint64_t rx_fill_ring_empty = 0;  // kernel: times the fill ring had no frame to give
  uint64_t tx_ring_empty = 0;       // kernel: times the TX ring was found empty
  uint64_t rx_datagrams = 0;        // frames handed to the receive callback as UDP datagrams
  uint64_t rx_not_udp = 0;          // frames parseUdpFrame refused (dropped here)
  uint64_t tx_datagrams = 0;        // frames put on the TX ring
  uint64_t tx_no_frame = 0;         // sends refused: no free UMEM frame or TX slot
};

class XskQueue;

// One worker's socket on one queue. receive() and send() may run on the worker's thread only
// (its rings have one user); the queue's shared rings are locked inside.
class XskSocket {
 public:
  ~XskSocket();
  XskSocket(const XskSocket&) = delete;
  XskSocket& operator=(const XskSocket&) = delete;

  int fd() const;
  // Hands up to `max` received UDP datagrams to `fn` (the payload is valid during the call
  // only); frames that are not UDP over IP are dropped and counted. Returns the number of
  // frames taken from the RX ring. Never blocks.
  size_t receive(size_t max, const std::function<void(const UdpFrame&)>& fn);
  // Waits up to timeout_ms for the RX ring to have a frame (poll(2)); true if it has.
  bool waitReadable(int timeout_ms);
  // Builds the frame (buildUdpFrame) in a free UMEM frame, puts it on the TX ring and kicks
  // the kernel (sendto, needed in copy mode and when the ring asks for a wakeup).
  // ResourceExhausted when no frame or TX slot is free; InvalidArgument for a frame larger
  // than a UMEM frame.
  absl::Status send(const UdpFrameHeader& h, ByteSpan payload);
  // Safe from any thread.
  XskStats stats() const;

 private:
  friend class XskQueue;
  XskSocket(XskQueue* queue) : queue_(queue) {}

  XskQueue* queue_;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_cons rx_{};
  xsk_ring_prod tx_{};
  // This side's counters: written by the socket's one user (the worker), read by stats()
  // from any thread (xsmbctl status, /metrics).
  struct OwnCounters {
    std::atomic<uint64_t> rx_datagrams{0}, rx_not_udp{0}, tx_datagrams{0}, tx_no_frame{0};
  };
  OwnCounters own_;
};

class XskQueue {
 public:
  ~XskQueue();
  XskQueue(const XskQueue&) = delete;
  XskQueue& operator=(const XskQueue&) = delete;

  // Creates the UMEM and options.workers XSKs bound to (ifname, queue) without loading any
  // XDP program (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD: xsmb_quic_xdp is the program). kAuto
  // tries XDP_ZEROCOPY first and falls back to XDP_COPY when the driver refuses it.
  static absl::StatusOr<std::unique_ptr<XskQueue>> open(const XskOptions& options);

  XskSocket& socket(uint32_t worker) { return *sockets_.at(worker); }
  size_t workers() const { return sockets_.size(); }
  bool zeroCopy() const { return zero_copy_; }
  uint32_t queueId() const { return options_.queue; }

 private:
  friend class XskSocket;
  XskQueue() = default;
  absl::Status createUmem();
  absl::Status bindFirst(uint32_t bind_flags);
  absl::Status bindRest();
  void destroyUmem(bool unmap_rings);
  void fillFrames(const uint64_t* addrs, size_t n);  // takes mu_
  bool takeTxFrame(uint64_t* addr);                  // takes mu_
  void *frameData(uint64_t addr) const { return xsk_umem__get_data(area_, addr); }

  XskOptions options_;
  void* area_ = nullptr;
  size_t area_len_ = 0;
  xsk_umem* umem_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
  std::mutex mu_;                  // guards fill_, comp_, free_tx_
  std::vector<uint64_t> free_tx_;  // TX frames not on any ring
  std::vector<std::unique_ptr<XskSocket>> sockets_;
  bool zero_copy_ = false;
};

}  // namespace xsmb::xsk
