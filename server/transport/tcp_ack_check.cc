#include "server/transport/tcp_ack_check.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace xsmb::transport {

Connection::AckStatus checkTcpAcknowledgment(int fd, std::chrono::steady_clock::time_point since,
                                             bool reset_if_silent) {
  using AckCheck = Connection::AckCheck;
  Connection::AckStatus st;
  tcp_info info{};
  socklen_t len = sizeof(info);
  int outq = 0;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || ioctl(fd, SIOCOUTQ, &outq) != 0) {
    st.state = AckCheck::kClosed;
    return st;
  }
  st.rto = std::chrono::microseconds(info.tcpi_rto);
  if (outq <= 0) {
    st.state = AckCheck::kAcknowledged;
    return st;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - since);
  if (elapsed.count() < 0 || info.tcpi_last_ack_recv < elapsed.count()) {
    st.state = AckCheck::kProgress;
    return st;
  }
  st.state = AckCheck::kSilent;
  if (reset_if_silent) {
    linger lg{1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    (void)shutdown(fd, SHUT_RDWR);
    st.state = AckCheck::kClosed;
  }
  return st;
}

}  // namespace xsmb::transport
