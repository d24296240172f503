// Options of the redis connector (names as Arroyo's Redis connector has them):
//
//  * Servers: address 'redis://host[:port][/db]'.
//  * User mappings: username, password (never in server or table options).
//  * Tables: type 'sink' or 'lookup'; target 'string' | 'list' | 'hash' | 'stream';
//    target.key_prefix, target.key_column, target.field_column (hash), target.ttl_secs,
//    target.operation 'append' | 'prepend' (list), target.max_length (list, stream); format
//    'json' | 'raw_string'; bad_data (lookup). A lookup table marks its key column with the
//    column option (metadata 'key').
#pragma once

#include "core/connector.hpp"

#include <string>
#include <vector>

namespace arroyo {

enum class RedisTarget { String, List, Hash, Stream };

struct RedisEndpoint {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string url() const;  // redis://host:port[/db], for messages
};

// What a client of one table connects with.
struct RedisConnection {
  RedisEndpoint endpoint;
  std::string username, password;  // from the user mapping; empty: none
};

// A table's options, checked.
struct RedisTableConfig {
  bool lookup = false;  // type 'lookup' (else 'sink')
  RedisTarget target = RedisTarget::String;
  std::string key_prefix;
  int key_column = -1;    // sink: target.key_column (0-based), or -1: the key is the prefix
  int field_column = -1;  // hash sinks: target.field_column (0-based)
  int64 ttl_secs = 0;     // 0: no expiry
  bool prepend = false;   // lists: LPUSH (else RPUSH)
  int64 max_length = 0;   // lists and streams: trimmed to this length after each write; 0: not
  int lookup_key = -1;    // lookup: the (metadata 'key') column (0-based)
};

constexpr const char* kRedisTableWhere = "connector \"redis\" tables";
constexpr int64 kRedisMaxTtlSecs = int64(100) * 366 * 24 * 3600;  // 100 years
constexpr int64 kRedisMaxLength = int64(1) << 40;

// Parses an address option; false with `why` for a malformed one.
bool parse_redis_address(const std::string& text, RedisEndpoint* out, std::string* why);
void redis_validate_server_options(const Options& options);
std::vector<OptionSpec> redis_user_mapping_specs();
// Checks a redis foreign table (options, columns, format) and returns its configuration.
RedisTableConfig redis_table_config(const TableSpec& spec);
RedisConnection redis_connection(const TableSpec& spec);
const char* redis_target_name(RedisTarget target);

}  // namespace arroyo
