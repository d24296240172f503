#include "connectors/mqtt/mqtt_options.hpp"

#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <mosquitto.h>

namespace arroyo {

namespace {

constexpr const char* kServerWhere = "connector \"mqtt\" servers";
constexpr const char* kTableWhere = "connector \"mqtt\" tables";
constexpr size_t kMaxClientPrefixBytes = 64;
constexpr size_t kMaxTopicBytes = 65535;  // MQTT strings are at most 65535 bytes

const std::vector<std::string> kQosChoices = {"AtMostOnce", "AtLeastOnce", "ExactlyOnce",
                                              "0",          "1",           "2"};

std::vector<OptionSpec> server_option_specs() {
  return {
      {"url", OptionKind::Text, true}, {"client_prefix", OptionKind::Text},
      {"tls.ca", OptionKind::Text},    {"tls.cert", OptionKind::Text},
      {"tls.key", OptionKind::Text},   {"max_packet_size", OptionKind::PosInt},
  };
}

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"type", OptionKind::Choice, true, {"source", "sink"}},
      {"topic", OptionKind::Text, true},
      {"qos", OptionKind::Choice, false, kQosChoices},
      {"sink.retain", OptionKind::Choice, false, {"true", "false"}},
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

MqttEndpoint endpoint(const Options& server) {
  std::string url = get_option(server, "url").value_or("");
  MqttEndpoint e;
  std::string why;
  if (!parse_mqtt_url(url, &e, &why)) bad_value("url", url, why);
  return e;
}

// username and password belong in a user mapping, which only its user (and superusers) see.
void refuse_credentials(const Options& opts) {
  for (const char* name : {"username", "password"})
    if (opts.count(name))
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               std::string("option \"") + name + "\" is a credential and belongs in a user mapping",
               "Servers and tables are visible to every user; user mappings are not.",
               std::string("Use CREATE USER MAPPING FOR … SERVER … OPTIONS (") + name + " '…').");
}

bool is_source_only(const std::string& name) {
  return name == "event_time_field" || name == "watermark_delay" || name == "idle_timeout";
}

}  // namespace

void mqtt_validate_server_options(const Options& options) {
  refuse_credentials(options);
  validate_options(options, server_option_specs(), kServerWhere);
  MqttEndpoint e = endpoint(options);
  if (auto prefix = get_option(options, "client_prefix")) {
    if (prefix->empty() || prefix->size() > kMaxClientPrefixBytes ||
        mosquitto_validate_utf8(prefix->data(), int(prefix->size())) != MOSQ_ERR_SUCCESS)
      bad_value("client_prefix", *prefix,
                "Expected 1 to " + std::to_string(kMaxClientPrefixBytes) + " bytes of UTF-8.");
  }
  for (const char* name : {"tls.ca", "tls.cert", "tls.key"}) {
    auto path = get_option(options, name);
    if (!path) continue;
    if (path->empty() || (*path)[0] != '/') bad_value(name, *path, "Expected an absolute path.");
    if (!e.tls)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               std::string("option \"") + name + "\" applies only to ssl:// and mqtts:// urls");
  }
  if (options.count("tls.cert") != options.count("tls.key"))
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "options \"tls.cert\" and \"tls.key\" must be given together");
  if (option_int(options, "max_packet_size", 0) > kMqttMaxMaxPacketBytes)
    bad_value("max_packet_size", *get_option(options, "max_packet_size"),
              "The largest allowed is " + std::to_string(kMqttMaxMaxPacketBytes) + ".");
}

std::vector<OptionSpec> mqtt_user_mapping_specs() {
  return {{"username", OptionKind::Text}, {"password", OptionKind::Text}};
}

bool mqtt_is_sink(const TableSpec& spec) {
  return get_option(spec.table_options, "type") == "sink";
}

bool mqtt_reads_server_files(const TableSpec& spec) {
  return spec.server_options.count("tls.ca") || spec.server_options.count("tls.cert") ||
         spec.server_options.count("tls.key");
}

void mqtt_validate_table(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  refuse_credentials(opts);
  validate_options(opts, table_option_specs(), kTableWhere);
  bool sink = mqtt_is_sink(spec);
  for (const auto& [name, value] : opts) {
    if (sink && is_source_only(name))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to source tables");
    if (!sink && name.rfind("sink.", 0) == 0)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to sink tables");
  }
  std::string topic = get_option(opts, "topic").value_or("");
  if (topic.empty() || topic.size() > kMaxTopicBytes ||
      mosquitto_validate_utf8(topic.data(), int(topic.size())) != MOSQ_ERR_SUCCESS)
    bad_value("topic", topic, "Expected 1 to 65535 bytes of UTF-8.");
  if (sink && mosquitto_pub_topic_check2(topic.data(), topic.size()) != MOSQ_ERR_SUCCESS)
    bad_value("topic", topic, "A sink publishes to one topic: it cannot hold + or #.");
  if (!sink && mosquitto_sub_topic_check2(topic.data(), topic.size()) != MOSQ_ERR_SUCCESS)
    bad_value("topic", topic,
              "+ must fill a whole topic level, and # must be the whole last level.");
  for (const ColumnInfo& col : spec.columns) {
    if (sink) {
      validate_options(col.options, {}, "columns of connector \"mqtt\" sink tables");
      continue;
    }
    validate_options(col.options, {{"metadata", OptionKind::Choice, false, {"topic"}}},
                     "columns of connector \"mqtt\" tables");
    if (!col.options.count("metadata")) continue;
    if (col.generated)
      pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION,
               "generated column \"" + col.name + "\" cannot be a metadata column");
    if (col.type != TEXTOID)
      pg::fail(ERRCODE_DATATYPE_MISMATCH,
               "metadata column \"" + col.name + "\" must be of type text",
               "metadata 'topic' has that type.");
  }
  validate_table_format(spec, sink ? TableRole::Sink : TableRole::Source);
}

int mqtt_topic_column(const TableSpec& spec) {
  for (const ColumnInfo& col : spec.columns)
    if (get_option(col.options, "metadata") == "topic") return col.attnum - 1;
  return -1;
}

int64 mqtt_max_packet_bytes(const TableSpec& spec) {
  return option_int(spec.server_options, "max_packet_size", kMqttDefaultMaxPacketBytes);
}

MqttClientConfig mqtt_client_config(const TableSpec& spec, const RuntimeInfo& info) {
  MqttClientConfig c;
  c.endpoint = endpoint(spec.server_options);
  bool sink = mqtt_is_sink(spec);
  // Stable across restarts of the pipeline, so that a persistent session is found again;
  // distinct per table and worker, as a broker keeps one connection per client id. A preview
  // (stream_preview) gets an id of its own worker's, and a clean session: it takes nothing
  // from a pipeline's session and leaves nothing on the broker.
  std::string prefix = get_option(spec.server_options, "client_prefix").value_or("arroyo-mqtt");
  if (info.preview)
    c.client_id = prefix + "_preview_" + std::to_string(info.dboid) + "_" +
                  std::to_string(MyProcPid) + "_" + std::to_string(spec.relid);
  else
    c.client_id = prefix + "_" + std::to_string(info.dboid) + "_" +
                  std::to_string(info.pipeline_id) + "_" + std::to_string(spec.relid) + "_" +
                  std::to_string(info.subtask_index);
  c.username = get_option(spec.user_options, "username").value_or("");
  c.password = get_option(spec.user_options, "password").value_or("");
  c.ca_file = get_option(spec.server_options, "tls.ca").value_or("");
  c.cert_file = get_option(spec.server_options, "tls.cert").value_or("");
  c.key_file = get_option(spec.server_options, "tls.key").value_or("");
  c.qos = parse_mqtt_qos(get_option(spec.table_options, "qos").value_or("0"));
  // QoS 1/2: a persistent session, which keeps a source's subscription (and what arrives
  // while it is away) and a sink's unacknowledged publications across reconnections.
  c.clean_session = c.qos == 0 || info.preview;
  if (!sink) c.subscribe_topic = get_option(spec.table_options, "topic").value_or("");
  c.max_payload_bytes = size_t(mqtt_max_packet_bytes(spec));
  c.queue_max_messages = kMqttQueueMaxMessages;
  c.queue_max_bytes = kMqttQueueMaxBytes;
  return c;
}

}  // namespace arroyo
