#include "common/quic/cid.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace xsmb::quic {

ConnectionId makeCid(uint8_t worker, const std::array<uint8_t, kCidRandomLength>& random) {
  ConnectionId cid{};
  cid[XSMB_QUIC_CID_OFF_LAYOUT] = kCidLayoutV1;
  cid[XSMB_QUIC_CID_OFF_WORKER] = worker;
  std::memcpy(cid.data() + XSMB_QUIC_CID_OFF_RANDOM, random.data(), random.size());
  return cid;
}

absl::StatusOr<ConnectionId> makeCid(uint8_t worker) {
  std::array<uint8_t, kCidRandomLength> random{};
  size_t got = 0;
  while (got < random.size()) {
    ssize_t n = getrandom(random.data() + got, random.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::InternalError(absl::StrCat("getrandom: ", std::strerror(errno)));
    got += static_cast<size_t>(n);
  }
  return makeCid(worker, random);
}

absl::StatusOr<uint8_t> cidWorker(ByteSpan cid) {
  if (cid.size() != kCidLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection ID of ", cid.size(), " bytes, not ", kCidLength));
  }
  if (cid[XSMB_QUIC_CID_OFF_LAYOUT] != kCidLayoutV1) {
    return absl::InvalidArgumentError(
        absl::StrCat("connection ID layout ", cid[XSMB_QUIC_CID_OFF_LAYOUT], ", not 1"));
  }
  return cid[XSMB_QUIC_CID_OFF_WORKER];
}

xsmb_quic_cid cidKey(const ConnectionId& cid) {
  xsmb_quic_cid key{};
  static_assert(sizeof(key) == kCidLength);
  std::memcpy(&key, cid.data(), sizeof(key));
  return key;
}

namespace {

absl::Status cut(const char* field, size_t need, size_t have) {
  return absl::InvalidArgumentError(
      absl::StrCat("QUIC header cut short in ", field, ": ", need, " bytes needed, ", have,
                   " in the datagram"));
}

// RFC 8999 5.1 / RFC 9000 17.2: flags, Version, DCID Length, DCID.
absl::StatusOr<FirstHeader> parseLong(ByteSpan d) {
  FirstHeader h;
  h.form = HeaderForm::kLong;
  if (d.size() < XSMB_QUIC_LONG_OFF_DCID) {
    return cut(d.size() <= XSMB_QUIC_LONG_OFF_VERSION + 3 ? "Version" : "DCID Length",
               XSMB_QUIC_LONG_OFF_DCID, d.size());
  }
  ByteReader r(d);
  r.skip(XSMB_QUIC_LONG_OFF_VERSION);
  h.version = r.u32be();
  size_t dcid_len = r.u8();
  if (h.version == XSMB_QUIC_VERSION_1) {
    if (dcid_len > kMaxCidLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("QUIC v1 DCID Length ", dcid_len, " above ", kMaxCidLength));
    }
    h.type = static_cast<LongType>((d[0] & XSMB_QUIC_LONG_TYPE_MASK) >> XSMB_QUIC_LONG_TYPE_SHIFT);
  }
  h.dcid = r.bytes(dcid_len);
  if (!r.ok()) return cut("Destination Connection ID", XSMB_QUIC_LONG_OFF_DCID + dcid_len, d.size());
  return h;
}

}  // namespace

absl::StatusOr<FirstHeader> parseFirstHeader(ByteSpan datagram, size_t short_dcid_length) {
  if (datagram.empty()) return absl::InvalidArgumentError("empty UDP payload: no QUIC header");
  if (datagram[0] & XSMB_QUIC_FORM_LONG) return parseLong(datagram);
  // RFC 8999 5.2 / RFC 9000 17.3: flags, then the DCID of the length the receiver chose.
  FirstHeader h;
  h.form = HeaderForm::kShort;
  if (datagram.size() < XSMB_QUIC_SHORT_OFF_DCID + short_dcid_length) {
    return cut("Destination Connection ID", XSMB_QUIC_SHORT_OFF_DCID + short_dcid_length,
               datagram.size());
  }
  h.dcid = datagram.subspan(XSMB_QUIC_SHORT_OFF_DCID, short_dcid_length);
  return h;
}

bool isPlaceable(const FirstHeader& h) {
  // Other versions go to the socket path, which answers Version Negotiation (RFC 9000 6.1).
  if (h.form == HeaderForm::kLong && h.version != XSMB_QUIC_VERSION_1) return false;
  // A client's first Initial or 0-RTT carries a DCID it chose, which fails the layout check
  // unless it happens to look like ours (then the map lookup in XDP finds nothing); its
  // later Initials carry our ID and are placed by it.
  return cidWorker(h.dcid).ok();
}

}  // namespace xsmb::quic
