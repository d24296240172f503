// The mqtt connector's source and sink (mqtt_source.cpp, mqtt_sink.cpp) and the bookkeeping
// they share: the clients of this process, stopped on the way out of a worker.
#pragma once

#include "core/connector.hpp"
#include "connectors/mqtt/mqtt_client.hpp"

#include <memory>

namespace arroyo {

std::unique_ptr<Source> make_mqtt_source(const TableSpec& spec);
std::unique_ptr<Sink> make_mqtt_sink(const TableSpec& spec);

// Creates and starts a client for a table, tracked until mqtt_release_client; the client wakes
// this worker's latch. Fails (a PostgreSQL error) naming `label` when it cannot start.
std::unique_ptr<MqttClient> mqtt_start_client(const MqttClientConfig& config,
                                              const std::string& label);
void mqtt_release_client(std::unique_ptr<MqttClient>& client);
// Fails unless the TLS files of the table's server are readable.
void mqtt_check_tls_files(const TableSpec& spec);

}  // namespace arroyo
