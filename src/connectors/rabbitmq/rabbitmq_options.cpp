#include "connectors/rabbitmq/rabbitmq_options.hpp"

#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {

constexpr const char* kServerWhere = "connector \"rabbitmq\" servers";
constexpr const char* kTableWhere = "connector \"rabbitmq\" tables";
// AMQP short strings (queue, exchange, routing key, virtual host names) hold 255 bytes at most.
constexpr size_t kMaxShortString = 255;

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"type", OptionKind::Choice, true, {"source", "sink"}},
      {"queue", OptionKind::Text},
      {"prefetch", OptionKind::PosInt},
      {"max_message_size", OptionKind::PosInt},
      {"exchange", OptionKind::Text},
      {"routing_key", OptionKind::Text},
  };
  for (OptionSpec& s : format_option_specs(message_format_names())) specs.push_back(s);
  for (OptionSpec& s : event_time_option_specs()) specs.push_back(s);
  return specs;
}

[[noreturn]] void bad_value(const std::string& option, const std::string& value,
                            const std::string& why) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"" + option + "\": \"" + value + "\"", why);
}

// A name that must fit an AMQP short string; `empty_ok`: the empty name means a default.
void check_short_string(const Options& opts, const std::string& option, bool empty_ok) {
  auto value = get_option(opts, option);
  if (!value) return;
  if (value->empty() && !empty_ok) bad_value(option, *value, "Expected a name.");
  if (value->size() > kMaxShortString)
    bad_value(option, value->substr(0, 40) + "...",
              "AMQP names are at most " + std::to_string(kMaxShortString) + " bytes.");
  if (value->find('\0') != std::string::npos || value->find('\n') != std::string::npos)
    bad_value(option, *value, "Names cannot contain line breaks.");
}

bool is_source_only(const std::string& name) {
  return name == "queue" || name == "prefetch" || name == "max_message_size" ||
         name == "event_time_field" || name == "watermark_delay" || name == "idle_timeout";
}

bool is_sink_only(const std::string& name) { return name == "exchange" || name == "routing_key"; }

}  // namespace

std::vector<OptionSpec> rabbitmq_server_specs() {
  return {{"host", OptionKind::Text}, {"port", OptionKind::PosInt}, {"virtual_host"}};
}

std::vector<OptionSpec> rabbitmq_user_mapping_specs() {
  return {{"username", OptionKind::Text}, {"password", OptionKind::Text}};
}

void rabbitmq_validate_server_options(const Options& options) {
  for (const char* secret : {"username", "password"})
    if (options.count(secret))
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               std::string("option \"") + secret + "\" belongs in a user mapping",
               "Servers and tables are visible to every user; user mappings are not.",
               std::string("Use CREATE USER MAPPING FOR … SERVER … OPTIONS (") + secret + " '…').");
  validate_options(options, rabbitmq_server_specs(), kServerWhere);
  if (auto host = get_option(options, "host"); host && host->empty())
    bad_value("host", *host, "Expected a host name or address.");
  if (option_int(options, "port", 5672) > 65535)
    bad_value("port", *get_option(options, "port"), "Expected a TCP port, 1 to 65535.");
  check_short_string(options, "virtual_host", false);
}

bool rabbitmq_is_sink(const TableSpec& spec) {
  return get_option(spec.table_options, "type") == "sink";
}

void rabbitmq_validate_table(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  for (const char* secret : {"username", "password"})
    if (opts.count(secret))
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               std::string("option \"") + secret + "\" belongs in a user mapping",
               "Servers and tables are visible to every user; user mappings are not.");
  validate_options(opts, table_option_specs(), kTableWhere);
  bool sink = rabbitmq_is_sink(spec);
  for (const auto& [name, value] : opts) {
    if (sink && (is_source_only(name) || is_source_only_format_option(name)))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to source tables");
    if (!sink && is_sink_only(name))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to sink tables");
  }
  if (!sink && !opts.count("queue"))
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             std::string("missing required option \"queue\" for ") + kTableWhere,
             "A rabbitmq source consumes one queue.");
  if (sink && !opts.count("exchange"))
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             std::string("missing required option \"exchange\" for ") + kTableWhere,
             "A rabbitmq sink publishes to an exchange ('' is the default exchange, which "
             "routes to the queue named by routing_key).");
  check_short_string(opts, "queue", false);
  check_short_string(opts, "exchange", true);
  check_short_string(opts, "routing_key", true);
  if (option_int(opts, "prefetch", kRabbitDefaultPrefetch) > kRabbitMaxPrefetch)
    bad_value("prefetch", *get_option(opts, "prefetch"),
              "Expected at most " + std::to_string(kRabbitMaxPrefetch) + ".");
  if (option_int(opts, "max_message_size", kRabbitDefaultMaxMessageBytes) >
      kRabbitMaxMaxMessageBytes)
    bad_value("max_message_size", *get_option(opts, "max_message_size"),
              "The largest allowed is " + std::to_string(kRabbitMaxMaxMessageBytes) +
                  " (256 MiB).");
  for (const ColumnInfo& col : spec.columns)
    validate_options(col.options, {}, std::string("columns of ") + kTableWhere);
  validate_table_format(spec, sink ? TableRole::Sink : TableRole::Source);
}

std::string RabbitEndpoint::display() const {
  return "amqp://" + host + ":" + std::to_string(port) + "/" + (vhost == "/" ? "" : vhost);
}

RabbitEndpoint rabbitmq_endpoint(const TableSpec& spec) {
  RabbitEndpoint e;
  e.host = get_option(spec.server_options, "host").value_or("localhost");
  e.port = int(option_int(spec.server_options, "port", 5672));
  e.vhost = get_option(spec.server_options, "virtual_host").value_or("/");
  // RabbitMQ's default user, as its own clients assume without credentials.
  e.username = get_option(spec.user_options, "username").value_or("guest");
  e.password = get_option(spec.user_options, "password").value_or("guest");
  return e;
}

}  // namespace arroyo
