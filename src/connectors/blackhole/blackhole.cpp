// blackhole: a sink that discards every row (stream_pipelines.rows_out counts them), for measuring
// pipelines without the cost of writing anywhere. Accepts any columns of any types, no options,
// and updating results too (their deletes are discarded like their inserts).
#include "core/connector.hpp"

namespace arroyo {

namespace {

// Drops what it is given; the engine counts the rows in rows_out.
class BlackholeSink : public Sink {
 public:
  void write(const Batch&) override {}
  // No state: any parallelism resumes any checkpoint.
  void rescale(int) override {}
};

class BlackholeConnector : public Connector {
 public:
  const char* name() const override { return "blackhole"; }

  void validate_table(const TableSpec& spec) const override {
    validate_options(spec.table_options, {}, "connector \"blackhole\" tables");
    for (const auto& c : spec.columns)
      validate_options(c.options, {}, "columns of connector \"blackhole\" tables");
  }

  TableRole role(const TableSpec&) const override { return TableRole::Sink; }
  bool accepts_updates(const TableSpec&) const override { return true; }
  // Each worker of a parallel pipeline discards its own share.
  bool splits_sink(const TableSpec&) const override { return true; }

  std::unique_ptr<Sink> make_sink(const TableSpec&) const override {
    return std::make_unique<BlackholeSink>();
  }
};

}  // namespace

const Connector& blackhole_connector() {
  static BlackholeConnector instance;
  return instance;
}

}  // namespace arroyo
