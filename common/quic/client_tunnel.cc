#include "common/quic/client_tunnel.h"
#include "common/quic/udp_gso.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace xsmb::quic {
namespace {

constexpr size_t kMaxUnacked = 16u << 20;  // TCP bytes held for the stream before reading waits
constexpr size_t kMaxToTcp = 16u << 20;
constexpr char kPriority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "+AES-128-CCM:%DISABLE_TLS13_COMPAT_MODE";

ngtcp2_tstamp now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<ngtcp2_tstamp>(ts.tv_sec) * NGTCP2_SECONDS +
         static_cast<ngtcp2_tstamp>(ts.tv_nsec);
}

void fill(uint8_t* p, size_t n) { (void)gnutls_rnd(GNUTLS_RND_RANDOM, p, n); }

uint16_t portOf(const sockaddr_storage& a) {
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(a).sin6_port
                                       : reinterpret_cast<const sockaddr_in&>(a).sin_port);
}

// A UDP socket connected to the server; its local address in `local`.
int connectedUdp(const sockaddr_storage& server, socklen_t len, sockaddr_storage* local,
                 socklen_t* local_len) {
  int fd = socket(server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  *local_len = sizeof(*local);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(local), local_len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  // linux/udp.h (4.18)
#endif

// The packets of one write() on their way out: with `gso`, packets of one size are gathered and
// leave in one UDP GSO send (UDP_SEGMENT: every datagram `segment` bytes but the last, at most
// 64 of them and 64 KiB), as QUIC stacks of Windows and Linux send; else one send each.
class SendBatch {
 public:
  static constexpr size_t kMaxPacket = 1500;
  SendBatch(int fd, bool gso) : fd_(fd), gso_(gso) {}
  ~SendBatch() { flush(); }
  // Where the next packet is written (the same place until add()).
  uint8_t* next() { return buf_.data() + len_; }
  void add(size_t n);
  void flush();
  void drop() { len_ = 0, count_ = 0; }  // before the socket closes

 private:
  void sendGso();

  int fd_;
  bool gso_;
  std::array<uint8_t, 65000> buf_;
  size_t len_ = 0, segment_ = 0;
  int count_ = 0;
};

void SendBatch::add(size_t n) {
  if (!gso_) {
    (void)send(fd_, buf_.data(), n, 0);
    return;
  }
  if (count_ > 0 && n > segment_) {  // longer than the batch's packets: it starts a new one
    const size_t at = len_;
    flush();
    std::memmove(buf_.data(), buf_.data() + at, n);
  }
  if (count_++ == 0) segment_ = n;
  len_ += n;
  if (n < segment_ || count_ == 64 || len_ + kMaxPacket > buf_.size()) flush();
}

void SendBatch::flush() {
  if (count_ > 1) {
    sendGso();
  } else if (count_ == 1) {
    (void)send(fd_, buf_.data(), len_, 0);
  }
  len_ = 0;
  count_ = 0;
}

void SendBatch::sendGso() {
  iovec iov{buf_.data(), len_};
  UdpSegmentControl control;
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  setUdpSegment(m, control, static_cast<uint16_t>(segment_));
  if (sendmsg(fd_, &m, 0) >= 0 || errno == EAGAIN || errno == ENOBUFS) return;
  gso_ = false;  // the kernel or the route refuses GSO: one send per datagram
  for (size_t at = 0; at < len_; at += segment_) {
    (void)send(fd_, buf_.data() + at, std::min(segment_, len_ - at), 0);
  }
}

}  // namespace

Tunnel::Tunnel(const TunnelOptions& o, gnutls_certificate_credentials_t cred, int tcp_fd, int id)
    : o_(o), cred_(cred), id_(id), tcp_fd_(tcp_fd) {
  ngtcp2_connection_close_error_default(&last_error_);
}

Tunnel::~Tunnel() {
  if (conn_) ngtcp2_conn_del(conn_);
  if (tls_) gnutls_deinit(tls_);
  if (tcp_fd_ >= 0) close(tcp_fd_);
  if (udp_fd_ >= 0) close(udp_fd_);
}

bool Tunnel::start(const sockaddr_storage& server, socklen_t server_len) {
  remote_ = server;
  remote_len_ = server_len;
  udp_fd_ = connectedUdp(remote_, remote_len_, &local_, &local_len_);
  if (udp_fd_ < 0) {
    finish(std::string("UDP socket: ") + std::strerror(errno));
    return false;
  }
  if (!initTls() || !initQuic()) return false;
  write();
  return !done_;
}

bool Tunnel::initTls() {
  const char* failed = nullptr;
  const gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(o_.alpn.data())),
                            static_cast<unsigned>(o_.alpn.size())};
  if (gnutls_init(&tls_, GNUTLS_CLIENT) != 0) {
    failed = "gnutls_init";
  } else if (ngtcp2_crypto_gnutls_configure_client_session(tls_) != 0) {
    failed = "ngtcp2 crypto setup";
  } else if (gnutls_priority_set_direct(tls_, kPriority, nullptr) != 0) {
    failed = "priority";
  } else if (gnutls_credentials_set(tls_, GNUTLS_CRD_CERTIFICATE, cred_) != 0) {
    failed = "credentials";
  } else if (gnutls_alpn_set_protocols(tls_, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0) {
    failed = "ALPN";
  }
  if (failed) {
    finish(std::string("TLS setup failed: ") + failed);
    return false;
  }
  gnutls_server_name_set(tls_, GNUTLS_NAME_DNS, o_.sni.data(), o_.sni.size());
  if (!o_.insecure) gnutls_session_set_verify_cert(tls_, o_.sni.c_str(), 0);
  ref_.get_conn = connOf;
  ref_.user_data = this;
  gnutls_session_set_ptr(tls_, &ref_);
  return true;
}

bool Tunnel::initQuic() {
  ngtcp2_callbacks cb{};
  cb.client_initial = ngtcp2_crypto_client_initial_cb;
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.handshake_completed = onHandshakeCompleted;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.recv_stream_data = onRecvStreamData;
  cb.acked_stream_data_offset = onAcked;
  cb.stream_close = onStreamClose;
  cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  cb.extend_max_local_streams_bidi = onExtendStreams;
  cb.rand = random;
  cb.get_new_connection_id = onNewCid;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  ngtcp2_cid dcid, scid;
  dcid.datalen = 18;
  fill(dcid.data, dcid.datalen);
  scid.datalen = 8;
  fill(scid.data, scid.datalen);
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now();
  settings.max_window = 32u << 20;
  settings.max_stream_window = 32u << 20;
  ngtcp2_transport_params tp;
  ngtcp2_transport_params_default(&tp);
  tp.initial_max_stream_data_bidi_local = 4u << 20;
  tp.initial_max_data = 8u << 20;
  tp.initial_max_streams_bidi = 0;
  tp.max_idle_timeout = 60 * NGTCP2_SECONDS;
  tp.active_connection_id_limit = 4;
  ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_), local_len_},
                   {reinterpret_cast<sockaddr*>(&remote_), remote_len_},
                   nullptr};
  if (int rv = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                      &settings, &tp, nullptr, this);
      rv != 0) {
    finish(std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv));
    return false;
  }
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  return true;
}

ngtcp2_conn* Tunnel::connOf(ngtcp2_crypto_conn_ref* ref) {
  return static_cast<Tunnel*>(ref->user_data)->conn_;
}

void Tunnel::random(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) { fill(dest, len); }

int Tunnel::onNewCid(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void*) {
  fill(cid->data, len);
  cid->datalen = len;
  fill(token, NGTCP2_STATELESS_RESET_TOKENLEN);
  return 0;
}

int Tunnel::onHandshakeCompleted(ngtcp2_conn*, void* user) {
  auto* t = static_cast<Tunnel*>(user);
  t->handshake_done_ = true;
  gnutls_datum_t alpn{};
  if (!t->o_.quiet && gnutls_alpn_get_selected_protocol(t->tls_, &alpn) == 0) {
    std::fprintf(stderr, "tunnel %d: handshake done, ALPN \"%.*s\"\n", t->id_,
                 static_cast<int>(alpn.size), alpn.data);
  }
  return 0;
}

int Tunnel::onExtendStreams(ngtcp2_conn* conn, uint64_t, void* user) {
  auto* t = static_cast<Tunnel*>(user);
  if (t->stream_id_ < 0 && !t->o_.probe)
    ngtcp2_conn_open_bidi_stream(conn, &t->stream_id_, nullptr);
  return 0;
}

int Tunnel::onRecvStreamData(ngtcp2_conn*, uint32_t flags, int64_t, uint64_t, const uint8_t* d,
                             size_t n, void* user, void*) {
  auto* t = static_cast<Tunnel*>(user);
  t->to_tcp_.insert(t->to_tcp_.end(), d, d + n);
  t->moved_ += n;
  if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) t->tcp_eof_ = true;
  return 0;
}

int Tunnel::onAcked(ngtcp2_conn*, int64_t, uint64_t, uint64_t n, void* user, void*) {
  static_cast<Tunnel*>(user)->send_.acked(n);
  return 0;
}

int Tunnel::onStreamClose(ngtcp2_conn*, uint32_t, int64_t, uint64_t, void* user, void*) {
  auto* t = static_cast<Tunnel*>(user);
  if (t->to_tcp_.empty()) t->outcome_ = "ok";
  t->tcp_eof_ = true;
  return 0;
}

bool Tunnel::wantTcpRead() const {
  return tcp_fd_ >= 0 && !tcp_eof_ && stream_id_ >= 0 && send_.unacked() < kMaxUnacked;
}

void Tunnel::onTcpReadable() {
  if (tcp_eof_) return write();
  std::vector<uint8_t> buf(256 * 1024);
  const ssize_t n = read(tcp_fd_, buf.data(), buf.size());
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    tcp_eof_ = true;  // the SMB client is gone: FIN the stream once its bytes are out
  } else {
    buf.resize(static_cast<size_t>(n));
    moved_ += buf.size();
    send_.push(std::move(buf));
  }
  write();
}

void Tunnel::flushToTcp() {
  size_t done = 0;
  while (done < to_tcp_.size()) {
    const ssize_t n = ::write(tcp_fd_, to_tcp_.data() + done, to_tcp_.size() - done);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {  // the SMB client is gone
      tcp_eof_ = true;
      done = to_tcp_.size();
      break;
    }
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (done == 0) return;
  to_tcp_.erase(to_tcp_.begin(), to_tcp_.begin() + static_cast<ptrdiff_t>(done));
  ngtcp2_conn_extend_max_stream_offset(conn_, stream_id_, done);
  ngtcp2_conn_extend_max_offset(conn_, done);
}

void Tunnel::onTcpWritable() {
  if (tcp_fd_ < 0) return;
  flushToTcp();
  write();
}

void Tunnel::onUdpReadable() {
  std::array<uint8_t, 65536> buf;
  for (int i = 0; i < 64 && !done_; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n =
        recvfrom(udp_fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) break;
    ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local_), local_len_},
                     {reinterpret_cast<sockaddr*>(&from), from_len},
                     nullptr};
    ngtcp2_pkt_info pi{};
    if (int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, buf.data(), static_cast<size_t>(n), now());
        rv != 0) {
      return fail(rv, "read");
    }
  }
  if (tcp_fd_ >= 0 && to_tcp_.size() < kMaxToTcp) flushToTcp();
  if (o_.probe && handshake_done_) return finish("ok");
  write();
}

void Tunnel::onTimer() {
  if (done_) return;
  if (int rv = ngtcp2_conn_handle_expiry(conn_, now()); rv != 0) return fail(rv, "timer");
  write();
}

ngtcp2_tstamp Tunnel::expiry() const { return done_ ? UINT64_MAX : ngtcp2_conn_get_expiry(conn_); }

bool Tunnel::takeUdpChanged() { return std::exchange(udp_changed_, false); }

// RFC 9000 9.2: the client moves to a new local port; the server validates the new path.
void Tunnel::migrate() {
  sockaddr_storage local{};
  socklen_t local_len = 0;
  const int fd = connectedUdp(remote_, remote_len_, &local, &local_len);
  if (fd < 0) return;
  ngtcp2_path path{{reinterpret_cast<sockaddr*>(&local), local_len},
                   {reinterpret_cast<sockaddr*>(&remote_), remote_len_},
                   nullptr};
  if (int rv = ngtcp2_conn_initiate_immediate_migration(conn_, &path, now()); rv != 0) {
    close(fd);
    if (rv != NGTCP2_ERR_INVALID_STATE) {  // handshake not yet confirmed: try again later
      std::fprintf(stderr, "tunnel %d: migration refused: %s\n", id_, ngtcp2_strerror(rv));
      migrated_ = true;
    }
    return;
  }
  std::fprintf(stderr, "tunnel %d: migrated from UDP port %u to %u\n", id_, portOf(local_),
               portOf(local));
  close(udp_fd_);
  udp_fd_ = fd;
  local_ = local;
  local_len_ = local_len;
  migrated_ = udp_changed_ = true;
}

void Tunnel::write() {
  if (done_) return;
  if (o_.migrate_after_bytes && !migrated_ && moved_ >= o_.migrate_after_bytes) migrate();
  SendBatch out(udp_fd_, o_.gso);
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  const ngtcp2_tstamp ts = now();
  bool blocked = false;
  for (int packets = 0; packets < 256;) {
    ngtcp2_vec vecs[16];
    const size_t nvec = (stream_id_ >= 0 && !blocked) ? send_.pendingVecs(vecs, 16) : 0;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    const bool fin = stream_id_ >= 0 && !blocked && tcp_eof_ && tcp_fd_ >= 0 && !fin_sent_ &&
                     to_tcp_.empty() && send_.sentOffset() + [&] {
                       uint64_t s = 0;
                       for (size_t i = 0; i < nvec; ++i) s += vecs[i].len;
                       return s;
                     }() == send_.queued();
    if (fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    // A zero-length STREAM frame opens the stream at the server right away (RFC 9000 2.1),
    // so the server may send on it before the client's first bytes.
    const bool announce = stream_id_ >= 0 && !announced_;
    ngtcp2_ssize used = -1;
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n = ngtcp2_conn_writev_stream(
        conn_, &ps.path, &pi, out.next(), SendBatch::kMaxPacket, &used, flags,
        (nvec || fin || announce) ? stream_id_ : -1, nvec ? vecs : nullptr, nvec, ts);
    if (announce && used >= 0) announced_ = true;
    if (used >= 0 && (nvec || fin)) {
      send_.sent(static_cast<uint64_t>(used));
      if (fin && send_.sentOffset() == send_.queued()) fin_sent_ = true;
    }
    if (n == NGTCP2_ERR_WRITE_MORE) continue;
    if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR) {
      blocked = true;
      continue;
    }
    if (n < 0) {
      out.drop();
      return fail(static_cast<int>(n), "write");
    }
    if (n == 0) break;
    out.add(static_cast<size_t>(n));
    ++packets;
  }
  out.flush();
  if (fin_sent_ && send_.allAcked() && tcp_eof_ && to_tcp_.empty()) finish("ok");
}

void Tunnel::fail(int liberr, const char* where) {
  if (liberr == NGTCP2_ERR_CRYPTO) {
    const uint8_t alert = ngtcp2_conn_get_tls_alert(conn_);
    return finish("handshake failed: TLS alert " + std::to_string(alert) + " (" +
                  gnutls_alert_get_name(static_cast<gnutls_alert_description_t>(alert)) + ")");
  }
  if (liberr == NGTCP2_ERR_DRAINING) {
    ngtcp2_connection_close_error e;
    ngtcp2_conn_get_connection_close_error(conn_, &e);
    std::string why = "server closed the connection, error code " + std::to_string(e.error_code);
    // RFC 9001 4.8: CRYPTO_ERROR 0x100 + the TLS alert.
    if (e.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT && e.error_code > 0x100 &&
        e.error_code < 0x200) {
      const auto alert = static_cast<gnutls_alert_description_t>(e.error_code - 0x100);
      why = "handshake failed: TLS alert " + std::to_string(e.error_code - 0x100) + " (" +
            gnutls_alert_get_name(alert) + ")";
    }
    return finish(why);
  }
  ngtcp2_connection_close_error_set_transport_error_liberr(&last_error_, liberr, nullptr, 0);
  finish(std::string(where) + ": " + ngtcp2_strerror(liberr));
}

void Tunnel::finish(const std::string& why) {
  if (done_) return;
  done_ = true;
  outcome_ = why;
  if (tcp_fd_ >= 0 && !to_tcp_.empty()) {
    // What the server sent before it closed still reaches the client (a few seconds at most).
    const timeval limit{5, 0};
    setsockopt(tcp_fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    fcntl(tcp_fd_, F_SETFL, fcntl(tcp_fd_, F_GETFL) & ~O_NONBLOCK);
    for (size_t at = 0; at < to_tcp_.size();) {
      const ssize_t n = ::write(tcp_fd_, to_tcp_.data() + at, to_tcp_.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    to_tcp_.clear();
  }
  if (conn_ && !ngtcp2_conn_is_in_closing_period(conn_) &&
      !ngtcp2_conn_is_in_draining_period(conn_) && udp_fd_ >= 0) {
    std::array<uint8_t, 1500> buf;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, buf.data(),
                                                              buf.size(), &last_error_, now());
    if (n > 0) (void)send(udp_fd_, buf.data(), static_cast<size_t>(n), 0);
  }
  if (!o_.quiet || why != "ok") std::fprintf(stderr, "tunnel %d: ended: %s\n", id_, why.c_str());
}

}  // namespace xsmb::quic
