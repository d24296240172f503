#include "connectors/kafka/kafka_options.hpp"

#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace arroyo {

namespace {

constexpr const char* kServerWhere = "connector \"kafka\" servers";
constexpr const char* kTableWhere = "connector \"kafka\" tables";
constexpr int64 kMaxMessageBytesLimit = 1000000000;  // librdkafka's own upper bound

// Credentials: accepted only in user mappings, never shown.
const char* const kCredentialProperties[] = {
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
};

// Properties that make librdkafka read files on the database server.
const char* const kFileProperties[] = {
    "ssl.key.location",          "ssl.certificate.location", "ssl.ca.location",
    "ssl.crl.location",          "ssl.keystore.location",    "sasl.kerberos.keytab",
    "ssl.ca.certificate.stores",
};

// Client properties a server may not set, with the reason shown to the user.
struct DeniedProperty {
  const char* name;
  const char* reason;
};
const DeniedProperty kDeniedProperties[] = {
    {"bootstrap.servers", "Use the server option bootstrap_servers."},
    {"metadata.broker.list", "Use the server option bootstrap_servers."},
    {"group.id", "Use the table option \"source.group_id\"."},
    {"auto.offset.reset", "Use the table option \"source.offset\"."},
    {"isolation.level", "Use the table option \"source.read_mode\"."},
    {"transactional.id", "Use the table option \"sink.commit_mode\"."},
    {"enable.auto.commit", "The connector commits offsets itself, after its pipeline commits."},
    {"auto.commit.enable", "The connector commits offsets itself, after its pipeline commits."},
    {"enable.auto.offset.store", "The connector keeps offsets itself."},
    {"offset.store.method", "The connector keeps offsets itself."},
    {"offset.store.path", "The connector keeps offsets itself."},
    {"enable.partition.eof", "The connector sets it itself."},
    {"allow.auto.create.topics", "The connector never creates topics."},
    {"log.queue", "The connector collects librdkafka's logs itself."},
    {"enabled_events", "The connector sets it itself."},
    {"internal.termination.signal", "The connector sets it itself."},
    {"plugin.library.paths", "Loading code into the database server is not allowed."},
    {"interceptors", "Loading code into the database server is not allowed."},
    {"ssl.engine.location", "Loading code into the database server is not allowed."},
    {"ssl.providers", "Loading code into the database server is not allowed."},
    {"sasl.kerberos.kinit.cmd", "Running commands on the database server is not allowed."},
};

// Callbacks and pointers, which only code can set.
bool is_callback_property(const std::string& name) {
  static const char* const names[] = {
      "error_cb",
      "throttle_cb",
      "stats_cb",
      "log_cb",
      "background_event_cb",
      "socket_cb",
      "connect_cb",
      "closesocket_cb",
      "open_cb",
      "resolve_cb",
      "opaque",
      "default_topic_conf",
      "ssl_key",
      "ssl_certificate",
      "ssl_ca",
      "ssl_engine_callback_data",
      "ssl.certificate.verify_cb",
      "oauthbearer_token_refresh_cb",
      "consume_cb",
      "rebalance_cb",
      "offset_commit_cb",
      "dr_cb",
      "dr_msg_cb",
      "partitioner_cb",
      "msg_order_cmp",
  };
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

bool is_credential(const std::string& name) {
  for (const char* n : kCredentialProperties)
    if (name == n) return true;
  return false;
}

using ConfPtr = std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)>;

ConfPtr new_conf() { return ConfPtr(rd_kafka_conf_new(), &rd_kafka_conf_destroy); }

// Checks one client property given to a server: allowed here, known to librdkafka, valid value.
void check_server_property(rd_kafka_conf_t* conf, const std::string& name,
                           const std::string& value) {
  if (is_credential(name))
    pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
             "option \"" + name + "\" is a credential and belongs in a user mapping",
             "Servers and tables are visible to every user; user mappings are not.",
             "Use CREATE USER MAPPING FOR … SERVER … OPTIONS (\"" + name + "\" '…').");
  for (const DeniedProperty& d : kDeniedProperties)
    if (name == d.name)
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               "Kafka client property \"" + name + "\" cannot be set on a server", d.reason);
  if (is_callback_property(name))
    pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
             "Kafka client property \"" + name + "\" cannot be set on a server",
             "Callbacks and pointers are set by the connector itself.");
  char errstr[512];
  rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr));
  if (res == RD_KAFKA_CONF_UNKNOWN)
    pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME, "unknown option \"" + name + "\" for " + kServerWhere,
             "Valid options are bootstrap_servers and librdkafka client properties "
             "(librdkafka's CONFIGURATION.md); credentials go in user mappings.");
  if (res != RD_KAFKA_CONF_OK)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for Kafka client property \"" + name + "\"", errstr);
}

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"type", OptionKind::Choice, true, {"source", "sink"}},
      {"topic", OptionKind::Text, true},
      {"source.offset", OptionKind::Choice, false, {"earliest", "latest", "group"}},
      {"source.group_id", OptionKind::Text},
      {"source.read_mode", OptionKind::Choice, false, {"read_committed", "read_uncommitted"}},
      {"source.stop_at", OptionKind::Choice, false, {"never", "latest"}},
      {"source.max_message_bytes", OptionKind::PosInt},
      {"sink.key_field", OptionKind::Text},
      {"sink.commit_mode", OptionKind::Choice, false, {"at_least_once", "exactly_once"}},
  };
  for (OptionSpec& s : format_option_specs(message_format_names())) specs.push_back(s);
  for (OptionSpec& s : event_time_option_specs()) specs.push_back(s);
  return specs;
}

// The connector's own source-only options (the format's are checked by the format layer).
bool is_source_only(const std::string& name) {
  return name.rfind("source.", 0) == 0 || name == "event_time_field" || name == "watermark_delay" ||
         name == "idle_timeout";
}

// Kafka's rule for topic names: 1..249 characters of [a-zA-Z0-9._-].
bool is_valid_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name)
    if (!(isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

struct MetadataKindInfo {
  const char* name;
  KafkaMetadata kind;
  const char* type_name;  // what the column must be
};
const MetadataKindInfo kMetadataKinds[] = {
    {"partition", KafkaMetadata::Partition, "integer"},
    {"offset", KafkaMetadata::Offset, "bigint"},
    {"timestamp", KafkaMetadata::Timestamp, "timestamp with time zone"},
    {"key", KafkaMetadata::Key, "text or bytea"},
    {"topic", KafkaMetadata::Topic, "text"},
};

bool metadata_type_fits(KafkaMetadata kind, Oid type) {
  switch (kind) {
    case KafkaMetadata::Partition: return type == INT4OID;
    case KafkaMetadata::Offset: return type == INT8OID;
    case KafkaMetadata::Timestamp: return type == TIMESTAMPTZOID;
    case KafkaMetadata::Key: return type == TEXTOID || type == BYTEAOID;
    case KafkaMetadata::Topic: return type == TEXTOID;
  }
  return false;
}

// Checks the columns' options: metadata columns (sources only) with their required types.
void validate_columns(const TableSpec& spec, bool sink) {
  std::vector<std::string> kinds;
  for (const MetadataKindInfo& k : kMetadataKinds) kinds.push_back(k.name);
  for (const ColumnInfo& col : spec.columns) {
    if (sink) {
      validate_options(col.options, {}, "columns of connector \"kafka\" sink tables");
      continue;
    }
    validate_options(col.options, {{"metadata", OptionKind::Choice, false, kinds}},
                     "columns of connector \"kafka\" tables");
    auto kind = get_option(col.options, "metadata");
    if (!kind) continue;
    if (col.generated)
      pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION,
               "generated column \"" + col.name + "\" cannot be a metadata column");
    for (const MetadataKindInfo& k : kMetadataKinds)
      if (*kind == k.name && !metadata_type_fits(k.kind, col.type))
        pg::fail(ERRCODE_DATATYPE_MISMATCH,
                 "metadata column \"" + col.name + "\" must be of type " + k.type_name,
                 std::string("metadata '") + k.name + "' has that type.");
  }
}

}  // namespace

void kafka_validate_server_options(const Options& options) {
  auto servers = get_option(options, "bootstrap_servers");
  if (!servers)
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             std::string("missing required option \"bootstrap_servers\" for ") + kServerWhere);
  if (servers->empty())
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"bootstrap_servers\": \"\"",
             "Expected a comma-separated list of host:port.");
  ConfPtr conf = new_conf();
  for (const auto& [name, value] : options)
    if (name != "bootstrap_servers") check_server_property(conf.get(), name, value);
}

std::vector<OptionSpec> kafka_user_mapping_specs() {
  std::vector<OptionSpec> specs;
  for (const char* n : kCredentialProperties) specs.push_back({n, OptionKind::Text});
  return specs;
}

bool kafka_is_sink(const TableSpec& spec) {
  return get_option(spec.table_options, "type") == "sink";
}

void kafka_validate_table(const TableSpec& spec) {
  validate_options(spec.table_options, table_option_specs(), kTableWhere);
  bool sink = kafka_is_sink(spec);
  std::string topic = get_option(spec.table_options, "topic").value_or("");
  if (!is_valid_topic_name(topic))
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"topic\": \"" + topic + "\"",
             "Kafka topic names are 1 to 249 characters from a-z, A-Z, 0-9, '.', '_' and '-'.");
  for (const auto& [name, value] : spec.table_options) {
    if (sink && is_source_only(name))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to source tables");
    if (!sink && name.rfind("sink.", 0) == 0)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to sink tables");
  }
  if (auto group = get_option(spec.table_options, "source.group_id"); group && group->empty())
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "invalid value for option \"source.group_id\": \"\"",
             "Expected a consumer group name.");
  if (option_int(spec.table_options, "source.max_message_bytes", 0) > kMaxMessageBytesLimit)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"source.max_message_bytes\": \"" +
                 *get_option(spec.table_options, "source.max_message_bytes") + "\"",
             "Expected at most " + std::to_string(kMaxMessageBytesLimit) + ".");
  if (auto key = get_option(spec.table_options, "sink.key_field")) {
    const ColumnInfo* col = spec.column(*key);
    if (!col)
      pg::fail(ERRCODE_UNDEFINED_COLUMN,
               "option \"sink.key_field\" names column \"" + *key + "\", which does not exist");
  }
  validate_columns(spec, sink);
  validate_table_format(spec, sink ? TableRole::Sink : TableRole::Source);
}

bool kafka_reads_server_files(const TableSpec& spec) {
  for (const char* name : kFileProperties)
    if (spec.server_options.count(name)) return true;
  return false;
}

std::vector<KafkaMetadataColumn> kafka_metadata_columns(const TableSpec& spec) {
  std::vector<KafkaMetadataColumn> out;
  for (const ColumnInfo& col : spec.columns) {
    auto kind = get_option(col.options, "metadata");
    if (!kind) continue;
    for (const MetadataKindInfo& k : kMetadataKinds)
      if (*kind == k.name) out.push_back({k.kind, col.attnum - 1, col.type == BYTEAOID});
  }
  return out;
}

KafkaClientConfig kafka_client_config(const TableSpec& spec) {
  KafkaClientConfig config;
  config.properties.emplace_back("bootstrap.servers",
                                 get_option(spec.server_options, "bootstrap_servers").value_or(""));
  for (const auto& [name, value] : spec.server_options)
    if (name != "bootstrap_servers") config.properties.emplace_back(name, value);
  for (const auto& [name, value] : spec.user_options) {
    if (!is_credential(name)) continue;  // validated at CREATE USER MAPPING; skip anything else
    config.properties.emplace_back(name, value);
    config.secrets.push_back(value);
  }
  return config;
}

std::string kafka_redact(std::string text, const std::vector<std::string>& secrets) {
  // Whole values, and the words of 4+ characters within them: librdkafka may quote only a
  // part of a value ("Unrecognized sasl.oauthbearer.config beginning at: ...").
  std::vector<std::string> patterns;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    patterns.push_back(secret);
    size_t start = 0;
    for (size_t i = 0; i <= secret.size(); i++) {
      bool separator = i == secret.size() || strchr(" \t\r\n,;=:&", secret[i]) != nullptr;
      if (!separator) continue;
      if (i - start >= 4 && i - start < secret.size())
        patterns.push_back(secret.substr(start, i - start));
      start = i + 1;
    }
  }
  std::sort(patterns.begin(), patterns.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& pattern : patterns) {
    size_t at = 0;
    while ((at = text.find(pattern, at)) != std::string::npos) {
      text.replace(at, pattern.size(), "********");
      at += 8;
    }
  }
  return text;
}

}  // namespace arroyo
