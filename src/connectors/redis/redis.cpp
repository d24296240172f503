// redis: a sink writing rows to Redis strings, lists, hashes or streams (redis_sink.cpp), and
// lookup tables read by key in lookup joins (redis_lookup.cpp), through hiredis
// (redis_client.cpp). Options: redis_options.cpp.
#include "connectors/redis/redis_lookup.hpp"
#include "connectors/redis/redis_options.hpp"
#include "connectors/redis/redis_sink.hpp"

namespace arroyo {

namespace {

class RedisConnector : public Connector {
 public:
  const char* name() const override { return "redis"; }

  void validate_server_options(const Options& options) const override {
    redis_validate_server_options(options);
  }

  std::vector<OptionSpec> user_mapping_options() const override {
    return redis_user_mapping_specs();
  }

  void validate_table(const TableSpec& spec) const override { redis_table_config(spec); }

  TableRole role(const TableSpec& spec) const override {
    return get_option(spec.table_options, "type") == "lookup" ? TableRole::Lookup : TableRole::Sink;
  }

  // String and hash targets take updating results: a deleted row is DEL or HDEL.
  bool accepts_updates(const TableSpec& spec) const override {
    auto target = get_option(spec.table_options, "target");
    return target == "string" || target == "hash";
  }

  int lookup_key_column(const TableSpec& spec) const override {
    return redis_table_config(spec).lookup_key;
  }

  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return std::make_unique<RedisSink>(spec);
  }

  std::unique_ptr<LookupTable> make_lookup(const TableSpec& spec) const override {
    return std::make_unique<RedisLookup>(spec);
  }
};

}  // namespace

const Connector& redis_connector() {
  static const RedisConnector connector;
  return connector;
}

}  // namespace arroyo
