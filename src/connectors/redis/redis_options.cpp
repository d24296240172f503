#include "connectors/redis/redis_options.hpp"

#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <algorithm>

namespace arroyo {

namespace {

constexpr const char* kServerWhere = "connector \"redis\" servers";

[[noreturn]] void bad_value(const std::string& option, const std::string& value,
                            const std::string& why, const std::string& hint = {}) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"" + option + "\": \"" + value + "\"", why, hint);
}

[[noreturn]] void not_for(const std::string& option, const std::string& what) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "option \"" + option + "\" applies only to " + what);
}

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"type", OptionKind::Choice, true, {"sink", "lookup"}},
      {"target", OptionKind::Choice, false, {"string", "list", "hash", "stream"}},
      {"target.key_prefix", OptionKind::Text},
      {"target.key_column", OptionKind::Text},
      {"target.field_column", OptionKind::Text},
      {"target.ttl_secs", OptionKind::PosInt},
      {"target.operation", OptionKind::Choice, false, {"append", "prepend"}},
      {"target.max_length", OptionKind::PosInt},
  };
  for (OptionSpec& s : format_option_specs({"json", "raw_string"})) specs.push_back(s);
  return specs;
}

// The 0-based index of the column an option names; an error naming the option if none.
int column_index(const TableSpec& spec, const std::string& option) {
  std::string name = get_option(spec.table_options, option).value_or("");
  const ColumnInfo* col = spec.column(name);
  if (!col)
    pg::fail(ERRCODE_UNDEFINED_COLUMN,
             "option \"" + option + "\" names column \"" + name + "\", which does not exist");
  return col->attnum - 1;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

RedisTarget parse_target(const std::string& name) {
  if (name == "list") return RedisTarget::List;
  if (name == "hash") return RedisTarget::Hash;
  if (name == "stream") return RedisTarget::Stream;
  return RedisTarget::String;
}

}  // namespace

std::string RedisEndpoint::url() const {
  bool v6 = host.find(':') != std::string::npos;
  return "redis://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         (db ? "/" + std::to_string(db) : "");
}

const char* redis_target_name(RedisTarget target) {
  switch (target) {
    case RedisTarget::String: return "string";
    case RedisTarget::List: return "list";
    case RedisTarget::Hash: return "hash";
    case RedisTarget::Stream: return "stream";
  }
  return "?";
}

bool parse_redis_address(const std::string& text, RedisEndpoint* out, std::string* why) {
  const std::string scheme = "redis://";
  if (text.compare(0, scheme.size(), scheme) != 0) {
    *why = "Expected redis://host[:port][/db].";
    return false;
  }
  std::string rest = text.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string db = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (hostport.find('@') != std::string::npos) {
    *why = "Credentials do not belong in the address: servers are visible to every user.";
    return false;
  }
  std::string host = hostport, port;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) {
      *why = "Unterminated [ in the host.";
      return false;
    }
    host = hostport.substr(1, close - 1);
    std::string after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *why = "Expected :port after the host.";
        return false;
      }
      port = after.substr(1);
      if (port.empty()) port = "?";
    }
  } else if (size_t colon = hostport.find(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
    if (port.empty()) port = "?";
  }
  if (host.empty() || host.size() > 255) {
    *why = "The host is missing.";
    return false;
  }
  out->host = host;
  out->port = 6379;
  if (!port.empty()) {
    if (!all_digits(port) || port.size() > 5 || atoi(port.c_str()) < 1 ||
        atoi(port.c_str()) > 65535) {
      *why = "The port must be a number from 1 to 65535.";
      return false;
    }
    out->port = atoi(port.c_str());
  }
  out->db = 0;
  if (slash != std::string::npos) {
    if (!all_digits(db) || db.size() > 5) {
      *why = "The database must be a number (redis://host:port/0).";
      return false;
    }
    out->db = atoi(db.c_str());
  }
  return true;
}

void redis_validate_server_options(const Options& options) {
  for (const char* secret : {"password", "username"})
    if (options.count(secret))
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               std::string("option \"") + secret +
                   "\" is a credential and belongs in a user mapping",
               "Servers and tables are visible to every user; user mappings are not.",
               std::string("Use CREATE USER MAPPING FOR … SERVER … OPTIONS (") + secret + " '…').");
  validate_options(options, {{"address", OptionKind::Text, true}}, kServerWhere);
  RedisEndpoint e;
  std::string why;
  std::string address = *get_option(options, "address");
  if (!parse_redis_address(address, &e, &why)) bad_value("address", address, why);
}

std::vector<OptionSpec> redis_user_mapping_specs() {
  return {{"username", OptionKind::Text}, {"password", OptionKind::Text}};
}

RedisTableConfig redis_table_config(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  for (const char* secret : {"password", "username"})
    if (opts.count(secret))
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               std::string("option \"") + secret +
                   "\" is a credential and belongs in a user mapping",
               "Servers and tables are visible to every user; user mappings are not.");
  validate_options(opts, table_option_specs(), kRedisTableWhere);
  RedisTableConfig c;
  c.lookup = get_option(opts, "type") == "lookup";
  auto target = get_option(opts, "target");
  if (!target && !c.lookup)
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             std::string("missing required option \"target\" for ") + kRedisTableWhere +
                 " of type 'sink'",
             "Valid values are: string, list, hash, stream.");
  c.target = parse_target(target.value_or("string"));
  c.key_prefix = get_option(opts, "target.key_prefix").value_or("");
  bool list = c.target == RedisTarget::List, hash = c.target == RedisTarget::Hash;
  if (opts.count("target.operation") && !list) not_for("target.operation", "target 'list'");
  if (opts.count("target.max_length") && !list && c.target != RedisTarget::Stream)
    not_for("target.max_length", "targets 'list' and 'stream'");
  if (opts.count("target.field_column") && !hash) not_for("target.field_column", "target 'hash'");
  c.prepend = get_option(opts, "target.operation") == "prepend";
  c.ttl_secs = option_int(opts, "target.ttl_secs", 0);
  if (c.ttl_secs > kRedisMaxTtlSecs)
    bad_value("target.ttl_secs", *get_option(opts, "target.ttl_secs"),
              "The longest allowed is " + std::to_string(kRedisMaxTtlSecs) + " (100 years).");
  c.max_length = option_int(opts, "target.max_length", 0);
  if (c.max_length > kRedisMaxLength)
    bad_value("target.max_length", *get_option(opts, "target.max_length"),
              "The largest allowed is " + std::to_string(kRedisMaxLength) + ".");
  if (c.lookup) {
    if (c.target == RedisTarget::List || c.target == RedisTarget::Stream)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "lookup tables take target 'string' (MGET) or 'hash' (HMGET), not '" + *target +
                   "'");
    for (const char* o : {"target.key_column", "target.field_column", "target.ttl_secs",
                          "target.operation", "target.max_length"})
      if (opts.count(o)) not_for(o, "tables of type 'sink'");
    for (const ColumnInfo& col : spec.columns) {
      validate_options(col.options, {{"metadata", OptionKind::Choice, false, {"key"}}},
                       "columns of connector \"redis\" lookup tables");
      if (!col.options.count("metadata")) continue;
      if (col.generated)
        pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION,
                 "generated column \"" + col.name + "\" cannot be a metadata column");
      if (c.lookup_key >= 0)
        pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION,
                 "a redis lookup table has one key column, and \"" + col.name +
                     "\" is a second one",
                 "Mark one column with OPTIONS (metadata 'key').");
      c.lookup_key = col.attnum - 1;
    }
    if (c.lookup_key < 0 && !spec.columns.empty())
      pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION, "a redis lookup table needs a key column",
               "Mark the column holding the key with OPTIONS (metadata 'key'); a lookup join "
               "compares it with the stream.");
    if (hash) {
      if (opts.count("format") || opts.count("json.timestamp_format"))
        pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "option \"format\" does not apply to lookup tables of target 'hash'",
                 "Each column reads the hash field of its name, as text.");
      return c;
    }
    validate_table_format(spec, TableRole::Lookup);
    return c;
  }
  for (const ColumnInfo& col : spec.columns)
    validate_options(col.options, {}, "columns of connector \"redis\" sink tables");
  if (opts.count("target.key_column")) c.key_column = column_index(spec, "target.key_column");
  if (c.key_column < 0 && c.key_prefix.empty())
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             std::string("missing option \"target.key_column\" or \"target.key_prefix\" for ") +
                 kRedisTableWhere,
             "The key of each row is target.key_prefix followed by the value of "
             "target.key_column; at least one of them must be given.");
  if (hash) {
    if (!opts.count("target.field_column"))
      pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
               std::string("missing required option \"target.field_column\" for ") +
                   kRedisTableWhere + " of target 'hash'");
    c.field_column = column_index(spec, "target.field_column");
  }
  validate_table_format(spec, TableRole::Sink);
  return c;
}

RedisConnection redis_connection(const TableSpec& spec) {
  RedisConnection c;
  std::string why;
  std::string address = get_option(spec.server_options, "address").value_or("");
  if (!parse_redis_address(address, &c.endpoint, &why)) bad_value("address", address, why);
  c.username = get_option(spec.user_options, "username").value_or("");
  c.password = get_option(spec.user_options, "password").value_or("");
  return c;
}

}  // namespace arroyo
