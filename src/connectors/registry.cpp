// The one place connectors are registered.
#include "core/connector.hpp"

namespace arroyo {

const Connector& impulse_connector();
const Connector& single_file_connector();
const Connector& nexmark_connector();
const Connector& blackhole_connector();
const Connector& websocket_connector();
const Connector& kafka_connector();
const Connector& cdc_connector();
const Connector& rabbitmq_connector();
const Connector& sse_connector();
const Connector& polling_http_connector();
const Connector& webhook_connector();
const Connector& mqtt_connector();
const Connector& filesystem_connector();
const Connector& redis_connector();
const Connector& nats_connector();

// Every connector, in the order the README documents them.
static std::vector<const Connector*> all_connectors() {
  return {&impulse_connector(),   &single_file_connector(), &nexmark_connector(),
          &blackhole_connector(), &websocket_connector(),   &kafka_connector(),
          &rabbitmq_connector(),  &sse_connector(),         &polling_http_connector(),
          &webhook_connector(),   &mqtt_connector(),        &filesystem_connector(),
          &redis_connector(),     &nats_connector()};
}

const Connector* find_connector(const std::string& name) {
  for (const Connector* c : all_connectors())
    if (name == c->name()) return c;
  return nullptr;
}

std::vector<std::string> connector_names() {
  std::vector<std::string> out;
  for (const Connector* c : all_connectors()) out.push_back(c->name());
  return out;
}

}  // namespace arroyo

namespace arroyo {

const Connector& regular_table_connector() { return cdc_connector(); }

void drop_pipeline_resources(Oid dboid, int32 pipeline_id) {
  for (const Connector* c : all_connectors()) c->drop_pipeline_resources(dboid, pipeline_id);
  regular_table_connector().drop_pipeline_resources(dboid, pipeline_id);
}

}  // namespace arroyo
