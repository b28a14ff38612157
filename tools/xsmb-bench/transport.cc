#include "tools/xsmb-bench/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/smb2/netbios.h"
#include "common/smb2/constants.h"
#include "common/smb2/ntstatus.h"

namespace xsmb::bench {
namespace {

constexpr uint64_t kOplockBreakMessageId = ~0ULL;  // MS-SMB2 3.2.5.19: unsolicited break
constexpr size_t kCreditUnit = 65536;              // MS-SMB2 3.1.5.2
constexpr uint32_t kMaxCreditRequest = 8192;

absl::Status errnoStatus(const char* what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool isPeerClose(int err) { return err == ECONNRESET || err == EPIPE; }

}  // namespace

absl::StatusOr<Endpoint> resolveEndpoint(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("resolve ", host, ": ", gai_strerror(rc)));
  }
  Endpoint e;
  std::memcpy(&e.addr, res->ai_addr, res->ai_addrlen);
  e.len = res->ai_addrlen;
  freeaddrinfo(res);
  return e;
}

Transport::Transport(TransportOptions opts) : opts_(opts) {}

Transport::~Transport() {
  if (fd_ >= 0) ::close(fd_);
}

void Transport::reset() {
  session_id_ = 0;
  sign_alg_.reset();
  credits_ = 1;
  next_message_id_ = 0;
  outstanding_charge_ = 0;
  pending_.clear();
  waiting_.clear();
  out_.clear();
  rstart_ = rend_ = 0;
  probe_outstanding_ = false;
  epoll_out_ = false;
  connecting_ = false;
  on_connect_ = nullptr;
  last_activity_ = Clock::now();
}

absl::Status Transport::connect(const std::string& host, uint16_t port,
                                std::chrono::milliseconds timeout) {
  if (fd_ >= 0) close(absl::CancelledError("reconnecting"));
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("resolve ", host, ": ", gai_strerror(rc)));
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return errnoStatus("socket");
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc < 0 && errno != EINPROGRESS) {
    auto st = errnoStatus("connect");
    ::close(fd);
    return st;
  }
  if (rc < 0) {
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int err = 0;
    socklen_t len = sizeof(err);
    if (n <= 0) {
      ::close(fd);
      return absl::DeadlineExceededError("connect timed out");
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      errno = err;
      return errnoStatus("connect");
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  adopt(fd);
  return absl::OkStatus();
}

absl::Status Transport::connectAsync(const Endpoint& to,
                                     std::function<void(const absl::Status&)> done) {
  if (fd_ >= 0) close(absl::CancelledError("reconnecting"));
  int fd = ::socket(to.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return errnoStatus("socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.len);
  if (rc < 0 && errno != EINPROGRESS) {
    auto st = errnoStatus("connect");
    ::close(fd);
    return st;
  }
  adopt(fd);
  if (rc == 0) {
    if (done) done(absl::OkStatus());
    return absl::OkStatus();
  }
  connecting_ = true;
  on_connect_ = std::move(done);
  updateInterest();
  return absl::OkStatus();
}

absl::Status Transport::finishConnect() {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    // A wakeup without an outcome yet (not writable, no error): keep waiting.
    sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 && errno == ENOTCONN) {
      return absl::OkStatus();
    }
  }
  connecting_ = false;
  auto done = std::move(on_connect_);
  on_connect_ = nullptr;
  absl::Status st;
  if (err != 0) {
    errno = err;
    st = errnoStatus("connect");
  }
  last_activity_ = Clock::now();
  if (done) done(st);
  return st;
}

void Transport::adopt(int fd) {
  if (fd_ >= 0) close(absl::CancelledError("replaced"));
  reset();
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  fd_ = fd;
  if (rbuf_.size() < 4096) rbuf_.resize(4096);
  if (epoll_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = this;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev);
  }
}

void Transport::setEpoll(int epoll_fd) {
  if (fd_ >= 0 && epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
  epoll_fd_ = epoll_fd;
  epoll_out_ = false;
  if (fd_ >= 0 && epoll_fd_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = this;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev);
    updateInterest();
  }
}

void Transport::close(absl::Status reason) {
  if (fd_ >= 0) {
    if (epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
    ::close(fd_);
    fd_ = -1;
  }
  auto on_connect = std::move(on_connect_);
  on_connect_ = nullptr;
  connecting_ = false;
  auto pending = std::move(pending_);
  auto waiting = std::move(waiting_);
  pending_.clear();
  waiting_.clear();
  out_.clear();
  rstart_ = rend_ = 0;
  // Idle connections keep no receive buffer (the many-sessions mode holds thousands).
  Bytes().swap(rbuf_);
  Reply r;
  r.status = reason;
  for (auto& [id, p] : pending) {
    if (p.done) p.done(r);
  }
  for (auto& w : waiting) {
    if (w.done) w.done(r);
  }
  if (on_connect) on_connect(reason);
}

void Transport::setSigning(crypto::SigningAlgorithm alg, const crypto::Key16& key, bool all) {
  sign_alg_ = alg;
  sign_key_ = key;
  sign_all_ = all;
}

uint16_t Transport::chargeOf(const Request& r) const {
  if (!multi_credit_) return 0;
  if (r.payload_size <= kCreditUnit) return 1;
  return static_cast<uint16_t>((r.payload_size - 1) / kCreditUnit + 1);
}

void Transport::submit(Request req, Completion done) {
  if (fd_ < 0) {
    Reply r;
    r.status = absl::UnavailableError("not connected");
    if (done) done(r);
    return;
  }
  waiting_.push_back(Waiting{std::move(req), std::move(done)});
  pump();
  if (!in_handler_) {
    if (auto st = flush(); !st.ok()) close(st);
  }
}

void Transport::pump() {
  while (!waiting_.empty() && fd_ >= 0) {
    uint16_t charge = chargeOf(waiting_.front().req);
    uint32_t need = std::max<uint32_t>(charge, 1);
    if (credits_ < need) break;
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    send(w.req, std::move(w.done), false);
  }
}

void Transport::send(Request& req, Completion done, bool probe) {
  uint16_t charge = chargeOf(req);
  uint32_t used = std::max<uint32_t>(charge, 1);
  credits_ -= used;
  outstanding_charge_ += used;
  uint64_t pool = credits_ + outstanding_charge_;
  uint32_t ask = used + (pool < opts_.credit_target ? opts_.credit_target - pool : 0);

  smb2::Header h;
  h.credit_charge = charge;
  h.command = req.command;
  h.credits = static_cast<uint16_t>(std::min(ask, kMaxCreditRequest));
  h.flags = req.flags;
  h.message_id = next_message_id_;
  h.tree_id = req.tree_id;
  h.session_id = req.command == smb2::SMB2_NEGOTIATE ? 0 : session_id_;
  h.process_id = 0xFEFF;
  next_message_id_ += used;

  bool sign = sign_alg_.has_value() && (sign_all_ || req.sign) &&
              req.command != smb2::SMB2_NEGOTIATE && req.command != smb2::SMB2_SESSION_SETUP;
  if (sign) h.flags |= smb2::SMB2_FLAGS_SIGNED;

  Outgoing o;
  o.frame.reserve(4 + 64 + req.body.size() + (sign ? req.payload.size() : 0));
  o.frame.resize(4);
  ByteWriter w(&o.frame);
  smb2::encodeHeader(h, w);
  w.bytes(req.body);
  if (sign || req.keep_request) {
    // The signature covers the payload too, so a signed WRITE is sent from one buffer.
    w.bytes(req.payload);
    if (sign) {
      signInPlace(*sign_alg_, sign_key_, std::span<uint8_t>(o.frame).subspan(4));
    }
  } else {
    o.payload = req.payload;
  }
  netbios::writeFrameHeader(static_cast<uint32_t>(o.frame.size() - 4 + o.payload.size()),
                        o.frame.data());
  Pending p;
  p.done = std::move(done);
  p.sent = Clock::now();
  p.probe = probe;
  if (req.keep_request) p.request.assign(o.frame.begin() + 4, o.frame.end());
  pending_.emplace(h.message_id, std::move(p));
  out_.push_back(std::move(o));
  ++stats_.requests;
}

absl::Status Transport::flush() {
  if (fd_ < 0) return absl::UnavailableError("not connected");
  auto st = writeSome();
  updateInterest();
  return st;
}

absl::Status Transport::writeSome() {
  if (connecting_) return absl::OkStatus();
  while (!out_.empty()) {
    iovec iov[64];
    int n = 0;
    for (auto it = out_.begin(); it != out_.end() && n < 62; ++it) {
      size_t skip = it->sent;
      if (skip < it->frame.size()) {
        iov[n++] = {it->frame.data() + skip, it->frame.size() - skip};
        skip = 0;
      } else {
        skip -= it->frame.size();
      }
      if (skip < it->payload.size()) {
        iov[n++] = {const_cast<uint8_t*>(it->payload.data()) + skip, it->payload.size() - skip};
      }
    }
    ssize_t sent = ::writev(fd_, iov, n);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
      if (errno == EINTR) continue;
      if (isPeerClose(errno)) ++stats_.peer_closes;
      return errnoStatus("send");
    }
    stats_.bytes_sent += sent;
    size_t left = static_cast<size_t>(sent);
    while (left > 0 && !out_.empty()) {
      Outgoing& o = out_.front();
      size_t total = o.frame.size() + o.payload.size();
      size_t take = std::min(left, total - o.sent);
      o.sent += take;
      left -= take;
      if (o.sent == total) out_.pop_front();
    }
  }
  return absl::OkStatus();
}

void Transport::updateInterest() {
  if (epoll_fd_ < 0 || fd_ < 0) return;
  bool want = wantsWrite();
  if (want == epoll_out_) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
  ev.data.ptr = this;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &ev);
  epoll_out_ = want;
}

absl::Status Transport::readSome() {
  for (int rounds = 0; rounds < 64 && fd_ >= 0; ++rounds) {
    if (rbuf_.size() < 4096) rbuf_.resize(4096);
    // Make room: compact, and grow to the announced frame length when it does not fit.
    size_t want = 4096;
    if (rend_ - rstart_ >= netbios::kNetBiosHeaderSize) {
      auto f = netbios::parseFrame(ByteSpan(rbuf_.data() + rstart_, rend_ - rstart_), opts_.max_frame);
      if (f.status == netbios::FrameStatus::kIncomplete) {
        want = std::max<size_t>(netbios::kNetBiosHeaderSize + f.length - (rend_ - rstart_), 4096);
      }
    }
    if (rbuf_.size() - rend_ < want) {
      if (rstart_ > 0) {
        std::memmove(rbuf_.data(), rbuf_.data() + rstart_, rend_ - rstart_);
        rend_ -= rstart_;
        rstart_ = 0;
      }
      if (rbuf_.size() - rend_ < want) rbuf_.resize(rend_ + want);
    }
    size_t space = rbuf_.size() - rend_;
    ssize_t n = ::recv(fd_, rbuf_.data() + rend_, space, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
      if (errno == EINTR) continue;
      if (isPeerClose(errno)) ++stats_.peer_closes;
      return errnoStatus("recv");
    }
    if (n == 0) {
      ++stats_.peer_closes;
      return absl::UnavailableError("connection closed by the server");
    }
    stats_.bytes_received += n;
    rend_ += n;
    last_activity_ = Clock::now();
    while (fd_ >= 0) {
      ByteSpan avail(rbuf_.data() + rstart_, rend_ - rstart_);
      auto f = netbios::parseFrame(avail, opts_.max_frame);
      if (f.status == netbios::FrameStatus::kIncomplete) break;
      if (f.status == netbios::FrameStatus::kTooLarge || f.status == netbios::FrameStatus::kBadType) {
        return absl::DataLossError("bad NetBIOS frame from the server");
      }
      size_t total = netbios::kNetBiosHeaderSize + f.length;
      if (f.status == netbios::FrameStatus::kMessage) {
        if (auto st = dispatch(avail.subspan(netbios::kNetBiosHeaderSize, f.length)); !st.ok()) {
          return st;
        }
      }
      rstart_ += total;
    }
    if (rstart_ == rend_) rstart_ = rend_ = 0;
    if (static_cast<size_t>(n) < space) {
      // A short read means the socket is drained; avoid one more recv returning EAGAIN.
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status Transport::dispatch(ByteSpan frame) {
  size_t off = 0;
  while (off < frame.size()) {
    ByteSpan msg = frame.subspan(off);
    smb2::Header h;
    if (!smb2::decodeHeader(msg, &h)) return absl::DataLossError("bad SMB2 header in a reply");
    if (h.next_command != 0) {
      if (h.next_command < 64 || h.next_command > msg.size()) {
        return absl::DataLossError("bad NextCommand in a reply");
      }
      msg = msg.first(h.next_command);
    }
    off += h.next_command != 0 ? h.next_command : msg.size();
    if (!(h.flags & smb2::SMB2_FLAGS_SERVER_TO_REDIR)) {
      return absl::DataLossError("a request arrived from the server");
    }
    credits_ += h.credits;
    if (h.message_id == kOplockBreakMessageId) continue;
    auto it = pending_.find(h.message_id);
    if (it == pending_.end()) {
      ++stats_.unmatched;
      continue;
    }
    if (h.isAsync() && h.status == static_cast<uint32_t>(STATUS_PENDING)) {
      ++stats_.interim;
      it->second.async = true;
      continue;
    }
    if (it != pending_.begin()) ++stats_.out_of_order;
    Pending p = std::move(it->second);
    pending_.erase(it);
    uint32_t used = std::max<uint32_t>(h.credit_charge, 1);
    outstanding_charge_ -= std::min<uint64_t>(outstanding_charge_, used);
    ++stats_.replies;
    Reply r;
    r.header = h;
    r.message = msg;
    r.request = p.request;
    r.latency = Clock::now() - p.sent;
    if (sign_alg_ && h.isSigned() && h.session_id == session_id_ &&
        !crypto::verifySignature(*sign_alg_, sign_key_, msg)) {
      ++stats_.bad_signatures;
      r.status = absl::DataLossError("reply signature does not verify");
    }
    if (p.probe) probe_outstanding_ = false;
    if (p.done) p.done(r);
    if (fd_ < 0) return absl::OkStatus();  // the completion closed the connection
  }
  pump();
  return absl::OkStatus();
}

absl::Status Transport::handleEvents(bool readable, bool writable) {
  if (fd_ < 0) return absl::UnavailableError("not connected");
  in_handler_ = true;
  absl::Status st;
  if (connecting_ && (readable || writable)) {
    st = finishConnect();
    if (st.ok() && connecting_) {
      in_handler_ = false;
      return absl::OkStatus();
    }
    readable = readable && st.ok();
  }
  if (st.ok() && readable) st = readSome();
  if (st.ok() && fd_ >= 0) {
    pump();
    st = writeSome();
  }
  in_handler_ = false;
  if (!st.ok()) {
    close(st);
    return st;
  }
  if (fd_ < 0) return absl::UnavailableError("connection closed");
  updateInterest();
  return absl::OkStatus();
}

void Transport::sendProbe() {
  Request r;
  r.command = smb2::SMB2_ECHO;
  ByteWriter w(&r.body);
  w.u16(4);
  w.u16(0);
  probe_outstanding_ = true;
  ++stats_.probes;
  if (credits_ == 0) return;  // nothing can be sent; the hard timeout decides
  send(r, nullptr, true);
}

absl::Status Transport::checkTimeouts(Clock::time_point now) {
  if (fd_ < 0) return absl::UnavailableError("not connected");
  Clock::time_point oldest = now;
  for (auto& [id, p] : pending_) {
    if (!p.async) oldest = std::min(oldest, p.sent);
  }
  auto age = now - oldest;
  if (opts_.hard_timeout.count() > 0 && age > opts_.hard_timeout) {
    ++stats_.hard_timeouts;
    auto st = absl::DeadlineExceededError("no reply within the hard timeout");
    close(st);
    return st;
  }
  if (!waiting_.empty() && pending_.empty() && credits_ == 0) {
    auto st = absl::ResourceExhaustedError("no credits granted and nothing in flight");
    close(st);
    return st;
  }
  bool idle = pending_.empty() && waiting_.empty();
  if (opts_.soft_timeout.count() > 0 && age > opts_.soft_timeout && !probe_outstanding_) {
    ++stats_.soft_timeouts;
    sendProbe();
  } else if (idle && opts_.echo_interval.count() > 0 &&
             now - last_activity_ > opts_.echo_interval) {
    last_activity_ = now;
    sendProbe();
  }
  return flush();
}

absl::Status Transport::runUntil(const std::function<bool()>& done,
                                 std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (auto st = flush(); fd_ >= 0 && !st.ok()) {
    close(st);
    return st;
  }
  while (!done()) {
    if (fd_ < 0) return absl::UnavailableError("connection lost");
    auto now = Clock::now();
    if (now >= deadline) return absl::DeadlineExceededError("timed out waiting for a reply");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd p{fd_, static_cast<short>(POLLIN | (wantsWrite() ? POLLOUT : 0)), 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 100)));
    if (n < 0 && errno != EINTR) return errnoStatus("poll");
    if (n > 0) {
      bool readable = p.revents & (POLLIN | POLLHUP | POLLERR);
      bool writable = p.revents & POLLOUT;
      if (auto st = handleEvents(readable, writable); !st.ok()) {
        if (done()) return absl::OkStatus();
        return st;
      }
    }
    if (fd_ >= 0) {
      if (auto st = checkTimeouts(Clock::now()); !st.ok() && !done()) return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace xsmb::bench
