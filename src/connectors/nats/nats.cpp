// nats: core NATS subjects and JetStream streams as sources and sinks, through libnats. The
// options are in nats_options.cpp, the client side in nats_client.cpp, the source in
// nats_source.cpp, the sink in nats_sink.cpp; README "nats" tells what each guarantees.
#include "connectors/nats/nats.hpp"
#include "connectors/nats/nats_options.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <map>

namespace arroyo {

namespace {

// The live sources and sinks of this process, stopped first thing on the way out
// (before_shmem_exit), before exit() runs libc's exit handlers under libnats' threads.
std::map<const void*, std::function<void()>>& live() {
  static std::map<const void*, std::function<void()>> clients;
  return clients;
}

void stop_live(int, Datum) {
  auto clients = std::move(live());
  live().clear();
  for (auto& [owner, stop] : clients) stop();
}

class NatsConnector : public Connector {
 public:
  const char* name() const override { return "nats"; }
  // A JetStream source's checkpoint holds a sequence number of a stream of some servers.
  std::vector<std::string> checkpointed_options() const override { return {"stream", "servers"}; }

  void validate_server_options(const Options& options) const override {
    nats_validate_server_options(options);
  }
  std::vector<OptionSpec> user_mapping_options() const override {
    return nats_user_mapping_specs();
  }
  void validate_table(const TableSpec& spec) const override { nats_validate_table(spec); }
  TableRole role(const TableSpec& spec) const override {
    return nats_is_sink(spec) ? TableRole::Sink : TableRole::Source;
  }
  bool accepts_updates(const TableSpec& spec) const override { return format_is_updating(spec); }
  bool produces_updates(const TableSpec& spec) const override { return format_is_updating(spec); }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return make_nats_source(spec);
  }
  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return make_nats_sink(spec);
  }
};

}  // namespace

void nats_track(const void* owner, std::function<void()> stop) {
  static bool hooked = false;
  if (!hooked) pg::call([] { before_shmem_exit(stop_live, 0); });
  hooked = true;
  live()[owner] = std::move(stop);
}

void nats_untrack(const void* owner) { live().erase(owner); }

const Connector& nats_connector() {
  static const NatsConnector connector;
  return connector;
}

}  // namespace arroyo
