// The websocket connector's table options: their specs, their checks at DDL time, and the
// WsClientConfig a running source is built from.
#pragma once

#include "core/connector.hpp"
#include "connectors/websocket/ws_client.hpp"

namespace arroyo {

constexpr const char* kWebsocketWhere = "connector \"websocket\" tables";
constexpr int64 kDefaultMaxMessageBytes = int64(4) << 20;
constexpr int64 kMaxMaxMessageBytes = int64(256) << 20;
// The queue between the client thread and the worker; reading pauses at either bound.
constexpr size_t kQueueMaxMessages = 8192;
constexpr size_t kQueueMaxBytes = size_t(16) << 20;

// Checks every table option (the format's through the format layer) and column options;
// errors name the option.
void validate_websocket_options(const TableSpec& spec);

// The client's configuration, from options validate_websocket_options accepted.
WsClientConfig websocket_client_config(const TableSpec& spec);

}  // namespace arroyo
