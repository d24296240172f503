// Options of the mqtt connector (named as Arroyo's MQTT connector names them):
//
//  * Servers: url (tcp://, mqtt://, ssl://, mqtts://), client_prefix, tls.ca, tls.cert, tls.key,
//    max_packet_size.
//  * User mappings: username, password (never in servers or tables).
//  * Tables: type (source or sink), topic (a source's may hold the wildcards + and #), qos
//    (AtMostOnce, AtLeastOnce, ExactlyOnce or 0, 1, 2), sink.retain, the format options, the
//    event-time options (sources); a source's text column may be (metadata 'topic').
#pragma once

#include "core/connector.hpp"
#include "connectors/mqtt/mqtt_client.hpp"

namespace arroyo {

constexpr int64 kMqttDefaultMaxPacketBytes = int64(1) << 20;
constexpr int64 kMqttMaxMaxPacketBytes = 268435455;  // MQTT's largest remaining length
// The queue between the client thread and the worker; reading pauses at either bound.
constexpr size_t kMqttQueueMaxMessages = 8192;
constexpr size_t kMqttQueueMaxBytes = size_t(16) << 20;

void mqtt_validate_server_options(const Options& options);
std::vector<OptionSpec> mqtt_user_mapping_specs();
// Checks a foreign table's options and columns; errors name the option or the column.
void mqtt_validate_table(const TableSpec& spec);
bool mqtt_is_sink(const TableSpec& spec);
// Whether the server's options make libmosquitto read files on the database server.
bool mqtt_reads_server_files(const TableSpec& spec);

// The 0-based row position of the source's (metadata 'topic') column, or -1.
int mqtt_topic_column(const TableSpec& spec);
// The client configuration of a table (validated), for the pipeline described by `info`.
MqttClientConfig mqtt_client_config(const TableSpec& spec, const RuntimeInfo& info);
int64 mqtt_max_packet_bytes(const TableSpec& spec);

}  // namespace arroyo
