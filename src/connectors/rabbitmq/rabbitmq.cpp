// rabbitmq: RabbitMQ queues as sources and exchanges as sinks, over AMQP 0-9-1 (librabbitmq).
// Options in rabbitmq_options.cpp, the connection in rabbitmq_client.cpp, the source (acks
// after the checkpoint commits, redelivered messages of committed epochs skipped) in
// rabbitmq_source.cpp, the sink (publisher confirms) in rabbitmq_sink.cpp.
#include "connectors/rabbitmq/rabbitmq_options.hpp"
#include "connectors/rabbitmq/rabbitmq_sink.hpp"
#include "connectors/rabbitmq/rabbitmq_source.hpp"
#include "formats/format.hpp"

namespace arroyo {

namespace {

class RabbitConnector : public Connector {
 public:
  const char* name() const override { return "rabbitmq"; }

  std::vector<OptionSpec> server_options() const override { return rabbitmq_server_specs(); }
  void validate_server_options(const Options& options) const override {
    rabbitmq_validate_server_options(options);
  }
  std::vector<OptionSpec> user_mapping_options() const override {
    return rabbitmq_user_mapping_specs();
  }
  void validate_table(const TableSpec& spec) const override { rabbitmq_validate_table(spec); }

  TableRole role(const TableSpec& spec) const override {
    return rabbitmq_is_sink(spec) ? TableRole::Sink : TableRole::Source;
  }

  // debezium_json tables carry changes: an updating source, a sink for updating results.
  bool accepts_updates(const TableSpec& spec) const override { return format_is_updating(spec); }
  bool produces_updates(const TableSpec& spec) const override { return format_is_updating(spec); }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<RabbitSource>(spec);
  }
  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return std::make_unique<RabbitSink>(spec);
  }
};

}  // namespace

const Connector& rabbitmq_connector() {
  static const RabbitConnector connector;
  return connector;
}

}  // namespace arroyo
