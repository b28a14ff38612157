#include "server/core/channel_forward.h"

#include <chrono>
#include <thread>
#include <utility>

#include "server/dispatch/dispatcher.h"
#include "server/session/channels.h"

namespace xsmb::core {
namespace {

bool forwardAttempt(const std::shared_ptr<session::ConnState>& state,
                    const std::shared_ptr<transport::Connection>& conn,
                    const transport::Message& msg, int attempt);

// The message processed on the channel itself, as any message of this connection.
void processHere(session::ConnState& st, transport::Connection& conn,
                 const transport::Message& msg) {
  Bytes resp = dispatch::processMessage(st, msg.span());
  st.countSent(resp.size());
  if (!resp.empty()) conn.send(transport::OutMessage{std::move(resp), {}});
  if (st.disconnect) conn.close();
}

// Routes `msg` again on the channel's strand, 2 ms from now.
void retryLater(const std::weak_ptr<session::ConnState>& channel,
                std::shared_ptr<transport::Connection> conn, transport::Message msg, int attempt) {
  auto st = channel.lock();
  if (!st || !st->run_in_strand) return;
  st->run_in_strand([conn = std::move(conn), msg = std::move(msg), attempt](session::ConnState& s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto self = s.shared_from_this();
    if (attempt >= kForwardRetries || !forwardAttempt(self, conn, msg, attempt + 1)) {
      processHere(s, *conn, msg);
    }
  });
}

// A message on its way to the home's strand: if that strand drops it unrun, it goes back.
struct Forwarded {
  std::weak_ptr<session::ConnState> channel;
  std::shared_ptr<transport::Connection> conn;
  transport::Message msg;
  int attempt = 0;
  bool ran = false;
  ~Forwarded() {
    if (!ran) retryLater(channel, std::move(conn), std::move(msg), attempt);
  }
};

bool forwardAttempt(const std::shared_ptr<session::ConnState>& state,
                    const std::shared_ptr<transport::Connection>& conn,
                    const transport::Message& msg, int attempt) {
  auto route = session::routeToHome(*state, msg.span());
  if (!route) return false;
  if (!route->home) {
    retryLater(state, conn, msg, attempt);
    return true;
  }
  auto f = std::make_shared<Forwarded>();  // built in place: a temporary would retry too
  f->channel = state;
  f->conn = conn;
  f->msg = msg;
  f->attempt = attempt;
  std::shared_ptr<session::ConnState> home = std::move(route->home);
  home->run_in_strand([f, r = std::move(*route)](session::ConnState& h) {
    // Not (or no longer) the session's home: `f` goes back to the channel to be routed again.
    if (!session::holdsSession(h, r.session_id)) return;
    f->ran = true;
    bool close = false;
    Bytes resp = dispatch::processOnChannel(h, r, f->msg.span(), &close);
    r.channel->countSent(resp.size());
    if (!resp.empty()) f->conn->send(transport::OutMessage{std::move(resp), {}});
    if (close) f->conn->close();
  });
  return true;
}

}  // namespace

bool forwardToHome(const std::shared_ptr<session::ConnState>& state,
                   const std::shared_ptr<transport::Connection>& conn,
                   const transport::Message& msg) {
  return forwardAttempt(state, conn, msg, 0);
}

}  // namespace xsmb::core
