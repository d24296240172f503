// kafka: topics of a Kafka cluster as sources and sinks, through librdkafka. The options are in
// kafka_options.cpp, the source in kafka_source.cpp, the sink in kafka_sink.cpp.
#include "connectors/kafka/kafka_options.hpp"
#include "connectors/kafka/kafka_sink.hpp"
#include "connectors/kafka/kafka_source.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {

class KafkaConnector : public Connector {
 public:
  const char* name() const override { return "kafka"; }
  std::vector<std::string> checkpointed_options() const override {
    return {"topic", "bootstrap_servers"};  // offsets per partition of a topic of a cluster
  }

  void validate_server_options(const Options& options) const override {
    kafka_validate_server_options(options);
  }

  std::vector<OptionSpec> user_mapping_options() const override {
    return kafka_user_mapping_specs();
  }

  void validate_table(const TableSpec& spec) const override { kafka_validate_table(spec); }

  TableRole role(const TableSpec& spec) const override {
    return kafka_is_sink(spec) ? TableRole::Sink : TableRole::Source;
  }

  // debezium_json tables carry changes: an updating source, a sink for updating results.
  bool accepts_updates(const TableSpec& spec) const override { return format_is_updating(spec); }
  bool produces_updates(const TableSpec& spec) const override { return format_is_updating(spec); }

  // Properties naming files make librdkafka read them as the server's OS user, as COPY would.
  void check_privileges(const TableSpec& spec, TableRole) const override {
    if (!kafka_reads_server_files(spec)) return;
    if (!pg::call([] { return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES); }))
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
               "must be superuser or have privileges of the pg_read_server_files role to use a "
               "kafka server whose client properties name files");
  }

  // Parallel pipelines: worker s of N reads the partitions p with p % N == s, and writes
  // through a producer of its own (exactly_once: a transactional id of its own).
  bool splits_source(const TableSpec&) const override { return true; }
  bool splits_sink(const TableSpec&) const override { return true; }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<KafkaSource>(spec);
  }

  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return std::make_unique<KafkaSink>(spec);
  }
};

}  // namespace

const Connector& kafka_connector() {
  static const KafkaConnector connector;
  return connector;
}

}  // namespace arroyo
