// Multichannel (session/channels.h): requests a bound channel receives for its session are
// processed on the strand of the connection holding the session (its home), and answered on
// the channel.
#pragma once

#include <memory>

#include "server/session/state.h"
#include "server/transport/connection.h"

namespace xsmb::core {

// On the strand of `state` (the connection `conn` received `msg` on): when `msg` is for a
// session bound to it (session::routeToHome), hands it to the home's strand, which processes it
// with this channel's MessageId window and signing key and sends the response on `conn`
// (closing `conn` when the request asks for that). If the home's strand drops it (its
// connection closed first) or finds it does not hold the session (session::holdsSession: it
// was handed on), or the session is between homes, the message comes back
// to this strand and is routed again every 2 ms, up to kForwardRetries times, then answered
// here.
// Returns false when `msg` is not for a bound session: the caller processes it.
bool forwardToHome(const std::shared_ptr<session::ConnState>& state,
                   const std::shared_ptr<transport::Connection>& conn,
                   const transport::Message& msg);
constexpr int kForwardRetries = 1000;

}  // namespace xsmb::core
