// Options of the nats connector: what servers, user mappings and tables accept, and the
// configuration a running source or sink is built from.
//
//  * Servers: servers (comma-separated nats:// URLs).
//  * User mappings: the credentials, auth.username with auth.password, or auth.token.
//  * Tables: type; subject (a core subject, or the subject a sink publishes to) or stream (a
//    JetStream stream to read, or for a sink, the stream that must store what is published);
//    consumer.* and source.* options of JetStream sources; the format options; event time.
#pragma once

#include "core/connector.hpp"

#include <string>
#include <vector>

namespace arroyo {

// How to reach the NATS servers.
struct NatsConnectionConfig {
  std::vector<std::string> servers;  // nats://host:port URLs
  std::string username, password, token;
  std::string label;  // "nats source public.orders (stream \"ORDERS\")", for messages
};

// What a source reads.
struct NatsSourceConfig {
  bool jetstream = false;
  std::string subject;          // core: the subject (wildcards allowed)
  std::string stream;           // JetStream: the stream
  std::string filter_subject;   // JetStream: consumer.filter_subjects (one subject), or empty
  std::string description;      // JetStream: consumer.description
  bool start_latest = false;    // source.offset 'latest'
  bool stop_at_latest = false;  // source.stop_at 'latest'
};

// What a sink writes.
struct NatsSinkConfig {
  std::string subject;
  std::string stream;  // empty: core publishing
};

void nats_validate_server_options(const Options& options);
std::vector<OptionSpec> nats_user_mapping_specs();
void nats_validate_table(const TableSpec& spec);
bool nats_is_sink(const TableSpec& spec);

// The connection configuration of a table (server options and user mapping); fails for
// incomplete credentials.
NatsConnectionConfig nats_connection_config(const TableSpec& spec, const std::string& label);
NatsSourceConfig nats_source_config(const TableSpec& spec);
NatsSinkConfig nats_sink_config(const TableSpec& spec);

}  // namespace arroyo
