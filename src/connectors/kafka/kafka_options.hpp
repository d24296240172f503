// Options of the kafka connector: what servers, user mappings and tables accept, and the
// librdkafka client configuration a table's consumer or producer is built from.
//
//  * Servers: bootstrap_servers, plus librdkafka client properties passed through as they are
//    ("client.id", "security.protocol", ...), except those the connector sets itself, those
//    that load code or run commands, and credentials.
//  * User mappings: the credentials ("sasl.username", "sasl.password", ...), never shown.
//  * Tables: type, topic, format, bad_data, source.* / sink.* options, event-time options.
#pragma once

#include "core/connector.hpp"

#include <string>
#include <utility>
#include <vector>

namespace arroyo {

// Checks a kafka server's options (without "connector").
void kafka_validate_server_options(const Options& options);
// The option specs of kafka user mappings (the credential properties).
std::vector<OptionSpec> kafka_user_mapping_specs();
// Checks a kafka foreign table: options, columns (metadata columns, the format's columns).
void kafka_validate_table(const TableSpec& spec);
// Whether the server's or user mapping's properties make librdkafka read server files.
bool kafka_reads_server_files(const TableSpec& spec);

bool kafka_is_sink(const TableSpec& spec);

// What a metadata column of a kafka source holds.
enum class KafkaMetadata { Partition, Offset, Timestamp, Key, Topic };
struct KafkaMetadataColumn {
  KafkaMetadata kind;
  int index;       // attnum - 1
  bool key_bytea;  // Key: bytea (raw bytes) rather than text
};
std::vector<KafkaMetadataColumn> kafka_metadata_columns(const TableSpec& spec);

// librdkafka properties for one client, in the order they are applied.
struct KafkaClientConfig {
  std::vector<std::pair<std::string, std::string>> properties;
  std::vector<std::string> secrets;  // credential values, to be redacted from any text shown
};
// The server's client properties, bootstrap.servers and the user mapping's credentials.
KafkaClientConfig kafka_client_config(const TableSpec& spec);

// `text` with every occurrence of each secret, and of each word of 4 or more characters within
// a secret, replaced by "********".
std::string kafka_redact(std::string text, const std::vector<std::string>& secrets);

}  // namespace arroyo
