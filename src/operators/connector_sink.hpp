// Hands rows to a connector's Sink (files, Kafka, ...), committing with the pipeline.
#pragma once

#include "core/connector.hpp"
#include "core/operator.hpp"

#include <memory>

namespace arroyo {

class ConnectorSinkOperator : public Operator {
 public:
  ConnectorSinkOperator(std::unique_ptr<Sink> sink, EngineStats& stats)
      : sink_(std::move(sink)), stats_(stats) {}
  void push(int, Batch& rows) override {
    sink_->write(rows);
    stats_.rows_out += rows.size();
  }
  void end_transaction() override { sink_->commit(); }
  void checkpoint(StateWriter& w) override { sink_->checkpoint(w); }
  void restore(const StateEntry& e) override { sink_->restore(e); }
  void rescale(int old_parallelism, const KeyGroupFilter&) override {
    sink_->rescale(old_parallelism);
  }
  void watermark(TimestampTz wm) override { stats_.watermark = wm; }
  std::string status() const override { return sink_->status(); }
  Sink& sink() { return *sink_; }

 private:
  std::unique_ptr<Sink> sink_;
  EngineStats& stats_;
};

}  // namespace arroyo
