// mqtt: MQTT topics as sources and sinks, through libmosquitto. The options are in
// mqtt_options.cpp, the client thread in mqtt_client.cpp, the source in mqtt_source.cpp, the
// sink in mqtt_sink.cpp.
#include "connectors/mqtt/mqtt.hpp"
#include "connectors/mqtt/mqtt_options.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <algorithm>
#include <unistd.h>

namespace arroyo {

namespace {

// The clients of this process. A worker may exit without unwinding (FATAL, SIGTERM): their
// threads are stopped first thing on the way out (before_shmem_exit), before the worker's
// latch goes away and before exit() runs OpenSSL's and libc's exit handlers under them.
std::vector<MqttClient*> live_clients;

void stop_live_clients(int, Datum) {
  for (MqttClient* client : live_clients) client->stop();
}

class MqttConnector : public Connector {
 public:
  const char* name() const override { return "mqtt"; }

  void validate_server_options(const Options& options) const override {
    mqtt_validate_server_options(options);
  }
  std::vector<OptionSpec> user_mapping_options() const override {
    return mqtt_user_mapping_specs();
  }
  void validate_table(const TableSpec& spec) const override { mqtt_validate_table(spec); }

  TableRole role(const TableSpec& spec) const override {
    return mqtt_is_sink(spec) ? TableRole::Sink : TableRole::Source;
  }
  bool accepts_updates(const TableSpec& spec) const override { return format_is_updating(spec); }
  bool produces_updates(const TableSpec& spec) const override { return format_is_updating(spec); }
  bool never_null(const TableSpec& spec, const std::string& column) const override {
    int topic = mqtt_topic_column(spec);
    const ColumnInfo* col = spec.column(column);
    return topic >= 0 && col && col->attnum - 1 == topic;
  }

  // TLS files make libmosquitto read them as the server's OS user, as COPY would.
  void check_privileges(const TableSpec& spec, TableRole) const override {
    if (!mqtt_reads_server_files(spec)) return;
    if (!pg::call([] { return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES); }))
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
               "must be superuser or have privileges of the pg_read_server_files role to use an "
               "mqtt server with options \"tls.ca\", \"tls.cert\" or \"tls.key\"");
  }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return make_mqtt_source(spec);
  }
  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return make_mqtt_sink(spec);
  }
};

}  // namespace

std::unique_ptr<MqttClient> mqtt_start_client(const MqttClientConfig& config,
                                              const std::string& label) {
  static bool hooked = false;
  if (!hooked) pg::call([] { before_shmem_exit(stop_live_clients, 0); });
  hooked = true;
  // The client thread wakes this worker through its latch, the one PostgreSQL function it
  // calls (SetLatch is safe from another thread).
  Latch* latch = MyLatch;
  auto client = std::make_unique<MqttClient>(config, [latch] { SetLatch(latch); });
  live_clients.push_back(client.get());
  try {
    client->start();
  } catch (const std::exception& e) {
    std::unique_ptr<MqttClient> dead = std::move(client);
    mqtt_release_client(dead);
    pg::fail(ERRCODE_CONNECTION_FAILURE, label + ": " + e.what());
  }
  return client;
}

void mqtt_release_client(std::unique_ptr<MqttClient>& client) {
  if (!client) return;
  client->stop();
  live_clients.erase(std::remove(live_clients.begin(), live_clients.end(), client.get()),
                     live_clients.end());
  client.reset();
}

void mqtt_check_tls_files(const TableSpec& spec) {
  for (const char* name : {"tls.ca", "tls.cert", "tls.key"}) {
    auto path = get_option(spec.server_options, name);
    if (path && access(path->c_str(), R_OK) != 0)
      pg::fail(ERRCODE_UNDEFINED_FILE, std::string("could not read the file of option \"") + name +
                                           "\": \"" + *path + "\": " + strerror(errno));
  }
}

const Connector& mqtt_connector() {
  static const MqttConnector connector;
  return connector;
}

}  // namespace arroyo
