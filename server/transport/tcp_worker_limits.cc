// The TCP worker's limits under abuse (tcp_worker.h, TcpOptions): a connection is not read
// while too much of it waits, to be processed or to be written, so a client that floods
// requests without reading its replies holds a bounded amount of the server's memory; and a
// connection that has no session some time after accept is closed, so idle sockets cannot
// hold the server's connection slots and descriptors.
#include <chrono>
#include <cstddef>

#include "common/base/log.h"
#include "server/transport/tcp_worker.h"

namespace xsmb::transport {
namespace {

// A connection with this many complete messages waiting is not read until they drain.
constexpr size_t kMaxPending = 64;

}  // namespace

size_t Worker::frameMemory(const OutFrame& f) {
  return sizeof(f.head) + f.bytes.size() + (f.file.data ? f.file.length : 0);
}

void Worker::enqueue(Conn& c, OutFrame f) {
  c.unsent_bytes += frameMemory(f);
  c.wq.push_back(std::move(f));
  updateReading(c);
}

bool Worker::unsentFull(const Conn& c) const {
  return options_->max_unsent_bytes && c.unsent_bytes >= options_->max_unsent_bytes;
}

void Worker::updateReading(Conn& c) {
  // Stop at a bound, resume below half of every bound: no flapping at the edge.
  auto over = [&](size_t divisor) {
    const uint64_t max_pending = options_->max_pending_bytes / divisor;
    const uint64_t max_unsent = options_->max_unsent_bytes / divisor;
    return c.pending.size() >= kMaxPending / divisor ||
           (max_pending && c.pending_bytes >= max_pending) ||
           (max_unsent && c.unsent_bytes >= max_unsent);
  };
  bool reading = c.reading;
  if (c.reading && over(1)) {
    reading = false;
  } else if (!c.reading && !c.close_after_write && !over(2)) {
    reading = true;
  }
  if (reading == c.reading) return;
  c.reading = reading;
  updateEvents(c);
}

void Worker::afterSent(Conn& c) {
  if (!c.busy && !c.pending.empty() && !unsentFull(c)) submitNext(c);
  updateReading(c);
}

void Worker::expireSetups() {
  if (setup_deadlines_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  size_t closed = 0;
  while (!setup_deadlines_.empty() && setup_deadlines_.front().first <= now) {
    const uint64_t id = setup_deadlines_.front().second;
    setup_deadlines_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->established) continue;
    closeConn(id);
    ++closed;
  }
  if (closed) {
    XLOG(WARNING) << "closed " << closed << " connection(s) without a session "
                  << options_->setup_timeout_secs << " s after accept (session setup timeout)";
  }
}

}  // namespace xsmb::transport
