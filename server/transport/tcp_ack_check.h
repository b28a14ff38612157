// Connection::checkAcknowledgment on a TCP socket (multichannel break delivery, MS-SMB2
// 3.3.4.6/3.3.4.7): has the peer acknowledged what it was sent, and is a silent peer to be
// given up?
#pragma once

#include <chrono>

#include "server/transport/connection.h"

namespace xsmb::transport {

// On the socket's event loop. Unacknowledged data: SIOCOUTQ (bytes written and not yet
// acknowledged, unsent ones included) above 0. Acknowledgments since `since`: TCP_INFO's
// tcpi_last_ack_recv (ms since the last ACK arrived) below the time elapsed since `since`.
// With `reset_if_silent`, a silent socket gets SO_LINGER {1, 0} and shutdown(SHUT_RDWR): the
// loop sees EPOLLHUP and closes it, and the close sends an RST (tcp(7): a zero linger time
// aborts the connection), which the peer receives even when its own packets are being lost;
// the state reported is then kClosed. `rto` is tcpi_rto. A socket whose state cannot be read
// reports kClosed.
Connection::AckStatus checkTcpAcknowledgment(int fd, std::chrono::steady_clock::time_point since,
                                             bool reset_if_silent);

}  // namespace xsmb::transport
