#include "connectors/websocket/websocket_options.hpp"

#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <map>

namespace arroyo {

namespace {

constexpr const char* kIndexedPrefix = "subscription_messages.";

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"endpoint", OptionKind::Text, true},
      {"type", OptionKind::Choice, false, {"source"}},
      {"headers", OptionKind::Text},
      {"subscription_message", OptionKind::Text},
      {"max_message_size", OptionKind::PosInt},
      {"tls_ca_file", OptionKind::Text},
  };
  for (OptionSpec& s : format_option_specs({"json", "raw_string"})) specs.push_back(s);
  for (OptionSpec& s : event_time_option_specs()) specs.push_back(s);
  return specs;
}

[[noreturn]] void bad_value(const std::string& option, const std::string& value,
                            const std::string& why) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"" + option + "\": \"" + value + "\"", why);
}

// The subscription_messages.N options by index; throws for a malformed name.
std::map<int64, std::string> indexed_subscriptions(const Options& opts) {
  std::map<int64, std::string> out;
  for (const auto& [name, value] : opts) {
    if (name == "subscription_messages")
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME, "option \"subscription_messages\" needs an index",
               {}, "Name the messages subscription_messages.0, subscription_messages.1, ...");
    if (name.compare(0, strlen(kIndexedPrefix), kIndexedPrefix) != 0) continue;
    std::string index = name.substr(strlen(kIndexedPrefix));
    bool digits = !index.empty() && index.size() <= 6 &&
                  std::all_of(index.begin(), index.end(), ::isdigit) &&
                  (index == "0" || index[0] != '0');
    if (!digits)
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME, "invalid option name \"" + name + "\"",
               "Indexed subscription messages are named subscription_messages.0, "
               "subscription_messages.1, ... (no leading zeros).");
    out[atoll(index.c_str())] = value;
  }
  return out;
}

// The subscription messages in sending order; checks how they were given.
std::vector<std::string> subscriptions(const Options& opts) {
  std::map<int64, std::string> indexed = indexed_subscriptions(opts);
  auto single = get_option(opts, "subscription_message");
  if (single && !indexed.empty())
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "options \"subscription_message\" and \"subscription_messages." +
                 std::to_string(indexed.begin()->first) + "\" cannot be combined",
             {},
             "Give one message as subscription_message, or several as subscription_messages.0, "
             "subscription_messages.1, ...");
  std::vector<std::string> out;
  if (single) {
    if (single->empty()) bad_value("subscription_message", *single, "The message is empty.");
    out.push_back(*single);
  }
  int64 expected = 0;
  for (const auto& [index, text] : indexed) {
    std::string name = kIndexedPrefix + std::to_string(index);
    if (index != expected)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" has no \"" + kIndexedPrefix + std::to_string(expected) +
                   "\" before it",
               "Indices must run 0, 1, 2, ... without gaps.");
    if (text.empty()) bad_value(name, text, "The message is empty.");
    out.push_back(text);
    expected++;
  }
  return out;
}

// The options without the indexed subscription messages (checked separately).
Options plain_options(const Options& opts) {
  Options out;
  for (const auto& [name, value] : opts)
    if (name.compare(0, strlen(kIndexedPrefix), kIndexedPrefix) != 0 &&
        name != "subscription_messages")
      out[name] = value;
  return out;
}

WsEndpoint endpoint(const Options& opts) {
  std::string url = get_option(opts, "endpoint").value_or("");
  WsEndpoint e;
  std::string why;
  if (!parse_ws_endpoint(url, &e, &why)) bad_value("endpoint", url, why);
  return e;
}

std::vector<WsHeader> headers(const Options& opts) {
  std::vector<WsHeader> out;
  auto text = get_option(opts, "headers");
  std::string why;
  if (text && !parse_ws_headers(*text, &out, &why)) bad_value("headers", *text, why);
  return out;
}

}  // namespace

void validate_websocket_options(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  // Unknown names first, so a typo is reported as such.
  indexed_subscriptions(opts);
  validate_options(plain_options(opts), table_option_specs(), kWebsocketWhere);
  WsEndpoint e = endpoint(opts);
  headers(opts);
  subscriptions(opts);
  int64 max_message = option_int(opts, "max_message_size", kDefaultMaxMessageBytes);
  if (max_message > kMaxMaxMessageBytes)
    bad_value("max_message_size", *get_option(opts, "max_message_size"),
              "The largest allowed is " + std::to_string(kMaxMaxMessageBytes) + " (256 MiB).");
  if (auto ca = get_option(opts, "tls_ca_file")) {
    if (ca->empty() || (*ca)[0] != '/') bad_value("tls_ca_file", *ca, "Expected an absolute path.");
    if (!e.tls)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"tls_ca_file\" applies only to wss:// endpoints");
  }
  for (const ColumnInfo& col : spec.columns)
    validate_options(col.options, {}, "columns of " + std::string(kWebsocketWhere));
  validate_table_format(spec, TableRole::Source);
}

WsClientConfig websocket_client_config(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  WsClientConfig c;
  c.endpoint = endpoint(opts);
  c.headers = headers(opts);
  c.subscriptions = subscriptions(opts);
  c.ca_file = get_option(opts, "tls_ca_file").value_or("");
  c.max_message_bytes = size_t(option_int(opts, "max_message_size", kDefaultMaxMessageBytes));
  c.queue_max_messages = kQueueMaxMessages;
  c.queue_max_bytes = kQueueMaxBytes;
  return c;
}

}  // namespace arroyo
