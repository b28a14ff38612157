// The layer that owns SMB connections (in the manner of Envoy's connection manager): it sits on
// the transport (server/transport) and the request pipeline (server/dispatch), creates the
// protocol state of each accepted connection, decides which messages are answered on the event
// loop, runs file I/O that would block on the loop's I/O engine, and hands the replies back to
// the transport to frame and send.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "server/session/server_context.h"
#include "server/session/state.h"
#include "server/transport/connection.h"
#include "server/vfs/io_engine.h"
#include "server/vfs/io_pool.h"

namespace xsmb::core {

// The largest message a connection accepts in its state: before NEGOTIATE 256 KiB (an SPNEGO
// token fits easily), then MaxWriteSize/MaxTransactSize plus 64 KiB for headers and compounded
// requests.
size_t maxMessageSize(const session::ConnState& conn);

// One per event loop (worker): accepts its connections and owns its file I/O engine.
class SmbAcceptor : public transport::Acceptor {
 public:
  // The engine is io_uring unless the kernel refuses it (the first refusal is logged and every
  // loop then uses the pool's threads) or XSMBD_IO_ENGINE=threads.
  SmbAcceptor(session::ServerContext* server, vfs::IoPool* pool, uint32_t loop_index);

  std::shared_ptr<transport::ConnectionCallbacks> onAccept(
      std::shared_ptr<transport::Connection> conn, int socket_fd, size_t* max_message) override;
  uint64_t onRefused() override;
  void onFramingError(bool oversized) override;

  // This loop's file I/O engine ("io_uring" or "threads"); used on the loop thread only.
  vfs::IoEngine& ioEngine() { return *io_; }
  session::ServerContext* server() const { return server_; }
  // A connection of this loop closed (loop thread).
  void connectionClosed();

 private:
  session::ServerContext* server_;
  uint32_t loop_index_;
  std::unique_ptr<vfs::IoEngine> io_;
  uint32_t connections_ = 0;  // this loop's connections, for the BPF worker load (loop thread)
};

}  // namespace xsmb::core
