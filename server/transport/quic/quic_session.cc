#include "server/transport/quic/quic_session.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/transport/quic/quic_cid.h"

namespace xsmb::transport::quic {
namespace {

// Packets written per write() call before yielding to other connections (ngtcp2's send
// quantum bounds a burst as well).
constexpr size_t kMaxPacketsPerWrite = 64;
constexpr size_t kMaxVecs = 16;

void fillRandom(uint8_t* out, size_t n) { (void)gnutls_rnd(GNUTLS_RND_RANDOM, out, n); }

}  // namespace

ngtcp2_tstamp quicNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<ngtcp2_tstamp>(ts.tv_sec) * NGTCP2_SECONDS +
         static_cast<ngtcp2_tstamp>(ts.tv_nsec);
}

const ngtcp2_callbacks& QuicSession::callbacks() {
  static const ngtcp2_callbacks cb = [] {
    ngtcp2_callbacks c{};
    c.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    c.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    c.handshake_completed = onHandshakeCompleted;
    c.encrypt = ngtcp2_crypto_encrypt_cb;
    c.decrypt = ngtcp2_crypto_decrypt_cb;
    c.hp_mask = ngtcp2_crypto_hp_mask_cb;
    c.recv_stream_data = onRecvStreamData;
    c.acked_stream_data_offset = onAcked;
    c.stream_close = onStreamClose;
    c.stream_open = onStreamOpen;
    c.rand = random;
    c.get_new_connection_id = onNewCid;
    c.remove_connection_id = onRemoveCid;
    c.update_key = ngtcp2_crypto_update_key_cb;
    c.path_validation = onPathValidation;
    c.stream_reset = onStreamReset;
    c.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    c.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    c.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    c.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    return c;
  }();
  return cb;
}

std::unique_ptr<QuicSession> QuicSession::accept(const ngtcp2_pkt_hd& hd, const ngtcp2_path& path,
                                                 const TlsServerContext& tls, const Params& p,
                                                 Owner* owner, std::string* why) {
  std::unique_ptr<QuicSession> s(new QuicSession(p, owner));
  if (!s->init(hd, path, tls, why)) return nullptr;
  return s;
}

bool QuicSession::init(const ngtcp2_pkt_hd& hd, const ngtcp2_path& path,
                       const TlsServerContext& tls, std::string* why) {
  const Cid mine = quicCidForWorker(params_.worker, fillRandom);
  ngtcp2_cid scid;
  ngtcp2_cid_init(&scid, mine.data(), mine.size());
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = quicNow();
  settings.max_window = params_.max_window;
  settings.max_stream_window = params_.max_window;
  settings.handshake_timeout = 10 * NGTCP2_SECONDS;
  ngtcp2_transport_params tp;
  ngtcp2_transport_params_default(&tp);
  tp.initial_max_stream_data_bidi_remote = params_.stream_window;
  tp.initial_max_stream_data_bidi_local = params_.stream_window;
  tp.initial_max_data = params_.connection_window;
  tp.initial_max_streams_bidi = 1;  // one SMB connection per QUIC connection (MS-SMB2 2.1)
  tp.initial_max_streams_uni = 0;
  tp.max_idle_timeout = static_cast<ngtcp2_duration>(params_.idle_timeout.count()) * NGTCP2_SECONDS;
  tp.active_connection_id_limit = 4;
  tp.original_dcid = hd.dcid;
  tp.stateless_reset_token_present = 1;
  fillRandom(tp.stateless_reset_token, sizeof(tp.stateless_reset_token));
  // The client's source ID is our destination; ours is `scid` (RFC 9000 7.2).
  if (int rv = ngtcp2_conn_server_new(&conn_, &hd.scid, &scid, &path, hd.version, &callbacks(),
                                      &settings, &tp, nullptr, this);
      rv != 0) {
    *why = absl::StrCat("ngtcp2_conn_server_new: ", ngtcp2_strerror(rv));
    return false;
  }
  ref_.get_conn = connOf;
  ref_.user_data = this;
  tls_ = tls.newSession(&ref_);
  if (!tls_) {
    *why = "TLS session setup failed";
    return false;
  }
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  owner_->cidIssued(scid);
  return true;
}

QuicSession::~QuicSession() {
  if (conn_) ngtcp2_conn_del(conn_);
  if (tls_) gnutls_deinit(tls_);
}

ngtcp2_conn* QuicSession::connOf(ngtcp2_crypto_conn_ref* ref) {
  return static_cast<QuicSession*>(ref->user_data)->conn_;
}

void QuicSession::random(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  fillRandom(dest, len);
}

bool QuicSession::handshakeCompleted() const {
  return conn_ && ngtcp2_conn_get_handshake_completed(conn_);
}

QuicSession::State QuicSession::read(const ngtcp2_path& path, ByteSpan datagram) {
  if (closed_) return State::kClosed;
  ngtcp2_pkt_info pi{};
  const int rv =
      ngtcp2_conn_read_pkt(conn_, &path, &pi, datagram.data(), datagram.size(), quicNow());
  return rv == 0 ? State::kOpen : fail(rv);
}

QuicSession::State QuicSession::fail(int liberr) {
  closed_ = true;
  switch (liberr) {
    case NGTCP2_ERR_DRAINING:  // the client's CONNECTION_CLOSE (RFC 9000 10.2.2)
      return State::kClosed;
    case NGTCP2_ERR_IDLE_CLOSE:  // RFC 9000 10.1: silently
      failure_ = "idle timeout";
      return State::kClosed;
    case NGTCP2_ERR_DROP_CONN:
      failure_ = "dropped by ngtcp2";
      return State::kClosed;
    default:
      break;
  }
  ngtcp2_connection_close_error err;
  ngtcp2_connection_close_error_default(&err);
  if (liberr == NGTCP2_ERR_CRYPTO) {
    tls_alert_ = ngtcp2_conn_get_tls_alert(conn_);
    failure_ = absl::StrCat("TLS handshake failed, alert ", tls_alert_,
                            tls_alert_ == GNUTLS_A_NO_APPLICATION_PROTOCOL
                                ? " (no_application_protocol: the client's ALPN is not \"smb\")"
                                : "");
    ngtcp2_connection_close_error_set_transport_error_tls_alert(&err, tls_alert_, nullptr, 0);
  } else {
    failure_ = absl::StrCat("QUIC error: ", ngtcp2_strerror(liberr));
    ngtcp2_connection_close_error_set_transport_error_liberr(&err, liberr, nullptr, 0);
  }
  return sendClose(err);
}

QuicSession::State QuicSession::sendClose(const ngtcp2_connection_close_error& err) {
  closed_ = true;
  if (ngtcp2_conn_is_in_closing_period(conn_) || ngtcp2_conn_is_in_draining_period(conn_)) {
    return State::kClosed;
  }
  std::array<uint8_t, NGTCP2_MAX_UDP_PAYLOAD_SIZE> buf;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, buf.data(),
                                                            buf.size(), &err, quicNow());
  if (n > 0) owner_->sendPacket(ps.path, ByteSpan(buf.data(), static_cast<size_t>(n)), 0);
  return State::kClosed;
}

void QuicSession::close(const std::string& reason) {
  if (closed_) return;
  ngtcp2_connection_close_error err;
  ngtcp2_connection_close_error_default(&err);
  ngtcp2_connection_close_error_set_application_error(
      &err, 0, reinterpret_cast<const uint8_t*>(reason.data()), reason.size());
  sendClose(err);
}

ngtcp2_tstamp QuicSession::expiry() const { return ngtcp2_conn_get_expiry(conn_); }

QuicSession::State QuicSession::onTimer() {
  if (closed_) return State::kClosed;
  if (int rv = ngtcp2_conn_handle_expiry(conn_, quicNow()); rv != 0) return fail(rv);
  return write();
}

void QuicSession::queue(Bytes bytes) { send_.push(std::move(bytes)); }

void QuicSession::consumed(uint64_t n) {
  if (closed_ || n == 0) return;
  if (stream_id_ >= 0) ngtcp2_conn_extend_max_stream_offset(conn_, stream_id_, n);
  ngtcp2_conn_extend_max_offset(conn_, n);
}

// Packets go out in batches of one path: equal-sized packets back to back in batch_, ended by
// a shorter one or a change of path, each batch one GSO send.
QuicSession::State QuicSession::write() {
  if (closed_) return State::kClosed;
  const size_t max_payload = ngtcp2_conn_get_max_tx_udp_payload_size(conn_);
  batch_.resize(max_payload * kMaxPacketsPerWrite);
  size_t filled = 0, segment = 0;
  ngtcp2_path_storage ps, batch_path;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_path_storage_zero(&batch_path);
  auto flush = [&] {
    if (filled) owner_->sendPacket(batch_path.path, ByteSpan(batch_.data(), filled), segment);
    filled = 0;
  };
  const ngtcp2_tstamp ts = quicNow();
  bool blocked = false;
  // ngtcp2's pacing (RFC 9002 7.7): at most a send quantum now, the rest when its timer says.
  const size_t quantum = std::clamp<size_t>(ngtcp2_conn_get_send_quantum(conn_) / max_payload,
                                            1, kMaxPacketsPerWrite);
  for (size_t packets = 0; packets < quantum;) {
    uint8_t* at = batch_.data() + filled;
    ngtcp2_vec vecs[kMaxVecs];
    const size_t nvec = (stream_id_ >= 0 && !blocked) ? send_.pendingVecs(vecs, kMaxVecs) : 0;
    ngtcp2_ssize used = -1;
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n = ngtcp2_conn_writev_stream(
        conn_, &ps.path, &pi, at, max_payload, &used, NGTCP2_WRITE_STREAM_FLAG_MORE,
        nvec ? stream_id_ : -1, nvec ? vecs : nullptr, nvec, ts);
    if (used > 0) send_.sent(static_cast<uint64_t>(used));
    if (n == NGTCP2_ERR_WRITE_MORE) continue;
    if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
        n == NGTCP2_ERR_STREAM_NOT_FOUND) {
      blocked = true;  // flow control: ACKs and other frames still go out
      continue;
    }
    if (n < 0) {
      flush();
      return fail(static_cast<int>(n));
    }
    if (n == 0) break;
    const auto size = static_cast<size_t>(n);
    if (filled && !ngtcp2_path_eq(&ps.path, &batch_path.path)) {
      owner_->sendPacket(batch_path.path, ByteSpan(batch_.data(), filled), segment);
      std::memmove(batch_.data(), at, size);  // the new path's packet starts the next batch
      filled = 0;
    }
    if (filled == 0) {
      ngtcp2_path_copy(&batch_path.path, &ps.path);
      segment = size;
    }
    filled += size;
    ++packets;
    if (size < segment) flush();  // GSO: only the last datagram may be shorter
  }
  flush();
  ngtcp2_conn_update_pkt_tx_time(conn_, ts);
  return State::kOpen;
}

int QuicSession::onRecvStreamData(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t,
                                  const uint8_t* data, size_t len, void* user, void*) {
  auto* s = static_cast<QuicSession*>(user);
  if (s->stream_id_ < 0) s->stream_id_ = stream_id;
  if (stream_id != s->stream_id_) return 0;  // cannot happen: one stream allowed
  if (len) s->owner_->streamData(ByteSpan(data, len));
  if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) s->owner_->streamEnded("the client ended the stream");
  return 0;
}

// RFC 9000 2.1: the client's first bidirectional stream (ID 0) is the SMB stream; it may open
// with an empty STREAM frame, and the server may then send first.
int QuicSession::onStreamOpen(ngtcp2_conn*, int64_t stream_id, void* user) {
  auto* s = static_cast<QuicSession*>(user);
  if (s->stream_id_ < 0 && ngtcp2_is_bidi_stream(stream_id)) s->stream_id_ = stream_id;
  return 0;
}

int QuicSession::onAcked(ngtcp2_conn*, int64_t, uint64_t, uint64_t len, void* user, void*) {
  static_cast<QuicSession*>(user)->send_.acked(len);
  return 0;
}

int QuicSession::onStreamClose(ngtcp2_conn*, uint32_t, int64_t stream_id, uint64_t, void* user,
                               void*) {
  auto* s = static_cast<QuicSession*>(user);
  if (stream_id == s->stream_id_) s->owner_->streamEnded("the SMB stream closed");
  return 0;
}

int QuicSession::onStreamReset(ngtcp2_conn*, int64_t stream_id, uint64_t, uint64_t, void* user,
                               void*) {
  auto* s = static_cast<QuicSession*>(user);
  if (stream_id == s->stream_id_) s->owner_->streamEnded("the client reset the stream");
  return 0;
}

int QuicSession::onNewCid(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len, void* user) {
  auto* s = static_cast<QuicSession*>(user);
  if (len != kCidLength) return NGTCP2_ERR_CALLBACK_FAILURE;
  const Cid mine = quicCidForWorker(s->params_.worker, fillRandom);
  ngtcp2_cid_init(cid, mine.data(), mine.size());
  fillRandom(token, NGTCP2_STATELESS_RESET_TOKENLEN);
  s->owner_->cidIssued(*cid);
  return 0;
}

int QuicSession::onRemoveCid(ngtcp2_conn*, const ngtcp2_cid* cid, void* user) {
  static_cast<QuicSession*>(user)->owner_->cidRetired(*cid);
  return 0;
}

int QuicSession::onPathValidation(ngtcp2_conn*, uint32_t, const ngtcp2_path*,
                                  ngtcp2_path_validation_result res, void* user) {
  if (res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS) {
    static_cast<QuicSession*>(user)->owner_->pathMigrated();
  }
  return 0;
}

int QuicSession::onHandshakeCompleted(ngtcp2_conn*, void* user) {
  static_cast<QuicSession*>(user)->owner_->handshakeDone();
  return 0;
}

}  // namespace xsmb::transport::quic
