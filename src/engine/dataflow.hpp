// A pipeline's running dataflow: sources, operators and the sink built from a LogicalPlan,
// driven round by round by the pipeline worker.
#pragma once

#include "connectors/connector.hpp"
#include "engine/operator.hpp"
#include "operators/watermark.hpp"
#include "planner/plan.hpp"

#include <memory>
#include <vector>

namespace arroyo {

struct RoundResult {
  bool all_ended = false;  // every source ended and the end has flowed to the sink
  bool idle = false;       // no source produced data this round
  TimestampTz wake_at = 0; // for idle: the earliest time a source expects data (0 = unknown)
};

class Dataflow {
 public:
  // Builds operators for `plan`; memory for per-round values comes from `round_memory`.
  Dataflow(LogicalPlan& plan, MemoryContext round_memory, const RuntimeInfo& info);
  ~Dataflow();

  void begin_transaction();
  // Polls every live source once and pushes what it produced through the pipeline.
  RoundResult run_round();
  void end_transaction();
  // After the transaction has committed: tells the sources (Source::on_commit).
  void after_commit();
  void close();

  EngineStats& stats() { return stats_; }

 private:
  struct SourceRun {
    std::unique_ptr<Source> source;
    std::unique_ptr<Batch> batch;
    Operator* downstream;
    int port;
    WatermarkOperator* watermark = nullptr;
    bool ended = false;
  };

  Operator* build(PlanNode* node, Operator* downstream, int port);

  MemoryContext round_memory_;
  RuntimeInfo info_;
  EngineStats stats_;
  std::vector<std::unique_ptr<Operator>> operators_;
  std::vector<SourceRun> sources_;
};

}  // namespace arroyo
