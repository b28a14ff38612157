// The send side of the TCP worker (tcp_worker.h): framing replies, the write queue, vectored
// sends and sendfile, pacing holds, and the epoll interest that follows from them.
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/smb2/netbios.h"
#include "server/transport/tcp_worker.h"

namespace xsmb::transport {

using namespace netbios;

Worker::OutFrame Worker::frameOf(OutMessage m) {
  OutFrame f{{}, std::move(m.bytes), std::move(m.file)};
  // MS-SMB2 2.1: the NetBIOS length counts the file data that follows the message.
  writeFrameHeader(static_cast<uint32_t>(f.bytes.size() + f.file.length), f.head);
  return f;
}

void Worker::sendUnsolicited(uint64_t id, OutMessage m) {
  auto it = conns_.find(id);
  if (it == conns_.end() || m.bytes.empty()) return;  // closed while its I/O ran
  enqueue(*it->second, frameOf(std::move(m)));
  markFlush(*it->second);
}

void Worker::markFlush(Conn& c) {
  if (c.flush_pending) return;
  c.flush_pending = true;
  to_flush_.push_back(c.id);
}

void Worker::flushMarked() {
  // By index: whatever is marked meanwhile is written in this pass too.
  for (size_t i = 0; i < to_flush_.size(); ++i) {
    auto it = conns_.find(to_flush_[i]);
    if (it == conns_.end() || !it->second->flush_pending) continue;
    it->second->flush_pending = false;
    flush(*it->second);
  }
  to_flush_.clear();
}

namespace {

// Adds to `iov` what is left of a piece of `len` bytes at `data` that starts `at` bytes into
// its frame, when `sent` bytes of the frame have been written.
void addPiece(iovec* iov, int* cnt, const uint8_t* data, size_t len, size_t at, size_t sent) {
  if (len == 0 || sent >= at + len) return;
  size_t skip = sent > at ? sent - at : 0;
  iov[*cnt].iov_base = const_cast<uint8_t*>(data) + skip;
  iov[*cnt].iov_len = len - skip;
  ++*cnt;
}

}  // namespace

int Worker::holdTimeout(int timeout) const {
  if (held_.empty()) return timeout;
  auto first = held_.front().first;
  for (const auto& h : held_) first = std::min(first, h.first);
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(first - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(ms.count(), 0, timeout));
}

void Worker::releaseHeld() {
  if (held_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> due;
  std::erase_if(held_, [&](const auto& h) {
    if (h.first > now) return false;
    due.push_back(h.second);
    return true;
  });
  for (uint64_t id : due) {
    auto it = conns_.find(id);
    if (it != conns_.end() && it->second->hold_until <= now) flush(*it->second);
  }
}

void Worker::flush(Conn& c) {
  if (c.hold_until != std::chrono::steady_clock::time_point{}) {
    if (c.hold_until > std::chrono::steady_clock::now()) {  // paced: releaseHeld() writes
      updateEvents(c);
      return;
    }
    c.hold_until = {};
  }
  while (!c.wq.empty()) {
    OutFrame& front = c.wq.front();
    const size_t mem_end = sizeof(front.head) + front.bytes.size();
    ssize_t n;
    if (c.woff >= mem_end && !front.file.data) {
      // The frame's file data, from the page cache straight to the socket.
      size_t sent = c.woff - mem_end;
      size_t left = front.file.length - sent;
      off_t pos = static_cast<off_t>(front.file.offset + sent);
      n = sendfile(c.fd, front.file.fd->get(), &pos, left);
      if (n == 0) {
        // The file shrank after the header promised the data: zeros keep the stream framed.
        static const uint8_t kZeros[4096] = {};
        n = send(c.fd, kZeros, std::min(left, sizeof(kZeros)), MSG_NOSIGNAL);
      }
    } else {
      // Whole frames gathered into one send; a frame whose data comes from a file ends the
      // batch (MSG_MORE: its headers wait for the data rather than leaving as a packet alone).
      // Data read into memory (file.data) goes as an iovec of its frame.
      iovec iov[64];
      int cnt = 0;
      bool more = false;
      for (auto it = c.wq.begin(); it != c.wq.end() && cnt + 3 <= 64; ++it) {
        const size_t sent = it == c.wq.begin() ? c.woff : 0;
        const size_t body_at = sizeof(it->head);
        const size_t file_at = body_at + it->bytes.size();
        addPiece(iov, &cnt, it->head, sizeof(it->head), 0, sent);
        addPiece(iov, &cnt, it->bytes.data(), it->bytes.size(), body_at, sent);
        if (it->file.data) {
          addPiece(iov, &cnt, it->file.data.get(), it->file.length, file_at, sent);
        } else if (it->file.length) {
          more = true;
          break;
        }
      }
      msghdr mh{};
      mh.msg_iov = iov;
      mh.msg_iovlen = static_cast<size_t>(cnt);
      n = sendmsg(c.fd, &mh, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      closeConn(c.id);
      return;
    }
    size_t left = static_cast<size_t>(n);
    while (left > 0 && !c.wq.empty()) {
      OutFrame& f = c.wq.front();
      size_t take = std::min(left, f.size() - c.woff);
      c.woff += take;
      left -= take;
      if (c.woff == f.size()) {
        c.unsent_bytes -= frameMemory(f);
        c.wq.pop_front();
        c.woff = 0;
      }
    }
  }
  if (c.wq.empty() && c.close_after_write) {
    closeConn(c.id);
    return;
  }
  afterSent(c);
  updateEvents(c);
}

void Worker::updateEvents(Conn& c) {
  // EPOLLRDHUP only while reading: the loop is level-triggered and handles a peer's half-close
  // through EPOLLIN (recv returns 0); asked for while reading is paused, it would wake the loop
  // at once, again and again, until the waiting messages drain.
  // A paced connection (hold_until) waits for releaseHeld(), not for the socket.
  const bool held = c.hold_until != std::chrono::steady_clock::time_point{};
  uint32_t want = (c.reading ? EPOLLIN | EPOLLRDHUP : 0) | (c.wq.empty() || held ? 0 : EPOLLOUT);
  if (want == c.events) return;  // most flushes change nothing: no system call
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

}  // namespace xsmb::transport
