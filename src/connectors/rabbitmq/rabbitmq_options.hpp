// Options of the rabbitmq connector: what servers, user mappings and tables accept, and the
// connection and table settings a running source or sink is built from.
//
//  * Servers: host, port, virtual_host.
//  * User mappings: username, password (never in server or table options).
//  * Tables: type; queue and prefetch (sources); exchange and routing_key (sinks); format,
//    bad_data, max_message_size and the event-time options.
#pragma once

#include "core/connector.hpp"

#include <string>
#include <vector>

namespace arroyo {

// The prefetch (basic.qos prefetch_count) of a source without the option; AMQP allows 65535.
constexpr int64 kRabbitDefaultPrefetch = 1000;
constexpr int64 kRabbitMaxPrefetch = 65535;
constexpr int64 kRabbitDefaultMaxMessageBytes = int64(4) << 20;
constexpr int64 kRabbitMaxMaxMessageBytes = int64(256) << 20;

std::vector<OptionSpec> rabbitmq_server_specs();
std::vector<OptionSpec> rabbitmq_user_mapping_specs();
// Checks a rabbitmq server's options (without "connector").
void rabbitmq_validate_server_options(const Options& options);
// Checks a rabbitmq foreign table: options (naming the bad one), columns, format.
void rabbitmq_validate_table(const TableSpec& spec);
bool rabbitmq_is_sink(const TableSpec& spec);

// Where and as whom to connect.
struct RabbitEndpoint {
  std::string host;
  int port = 5672;
  std::string vhost;
  std::string username, password;
  // "amqp://host:port/vhost", for messages (never the credentials).
  std::string display() const;
};
RabbitEndpoint rabbitmq_endpoint(const TableSpec& spec);

}  // namespace arroyo
