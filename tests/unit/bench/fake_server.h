// A scripted SMB2 "server" for the xsmb-bench transport tests: the far end of a socket that the
// test reads requests from and writes replies to, in whatever order the script says.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "common/base/bytes.h"
#include "common/smb2/netbios.h"
#include "common/smb2/constants.h"
#include "common/smb2/header.h"

namespace xsmb::bench::testing {

struct Received {
  smb2::Header header;
  Bytes message;  // header + body
};

// Reads exactly n bytes (blocking, with a 5 s poll guard). False on EOF/timeout.
inline bool readExact(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, 5000) <= 0) return false;
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// One NetBIOS-framed request from the client, or nullopt on EOF / timeout / bad header.
inline std::optional<Received> readRequest(int fd) {
  uint8_t nb[4];
  if (!readExact(fd, nb, 4)) return std::nullopt;
  size_t len = (size_t{nb[1]} << 16) | (size_t{nb[2]} << 8) | nb[3];
  Received r;
  r.message.resize(len);
  if (!readExact(fd, r.message.data(), len)) return std::nullopt;
  if (!smb2::decodeHeader(r.message, &r.header)) return std::nullopt;
  return r;
}

// A reply message (header + body, no NetBIOS header) to `req`.
inline Bytes replyMessage(const smb2::Header& req, uint32_t status, uint16_t credits,
                          const Bytes& body, uint32_t extra_flags = 0, uint64_t async_id = 0) {
  smb2::Header h;
  h.credit_charge = req.credit_charge;
  h.status = status;
  h.command = req.command;
  h.credits = credits;
  h.flags = smb2::SMB2_FLAGS_SERVER_TO_REDIR | extra_flags;
  h.message_id = req.message_id;
  h.async_id = async_id;
  h.tree_id = req.tree_id;
  h.session_id = req.session_id;
  ByteWriter w;
  smb2::encodeHeader(h, w);
  w.bytes(body);
  return w.take();
}

inline Bytes framed(const Bytes& message) {
  Bytes out(4);
  netbios::writeFrameHeader(static_cast<uint32_t>(message.size()), out.data());
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

inline void sendAll(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

inline void sendReply(int fd, const smb2::Header& req, uint32_t status, uint16_t credits,
                      const Bytes& body = {0x04, 0x00, 0x00, 0x00}, uint32_t extra_flags = 0,
                      uint64_t async_id = 0) {
  sendAll(fd, framed(replyMessage(req, status, credits, body, extra_flags, async_id)));
}

}  // namespace xsmb::bench::testing
