#include "engine/dataflow.hpp"

#include "operators/connector_sink.hpp"
#include "operators/project.hpp"
#include "operators/table_sink.hpp"
#include "operators/union_all.hpp"
#include "operators/updating_aggregate.hpp"
#include "operators/window_aggregate.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"

extern "C" {
#include "utils/regproc.h"
}

namespace arroyo {

Dataflow::Dataflow(LogicalPlan& plan, MemoryContext round_memory, const RuntimeInfo& info,
                   int64 ttl_us, int64 flush_us)
    : round_memory_(round_memory), info_(info), ttl_us_(ttl_us), flush_us_(flush_us) {
  last_flush_ = GetCurrentTimestamp();
  Operator* sink;
  if (plan.sink.is_table) {
    operators_.push_back(std::make_unique<TableSinkOperator>(plan.sink, stats_, info.pipeline_name));
    describe("sink table " + plan.sink.name, plan.root->desc);
  } else {
    auto s = plan.sink.connector->make_sink(plan.sink.spec);
    if (plan.sink.updating) s->set_key_columns(plan.sink.key_columns);
    s->open(info_);
    sink_ = s.get();
    operators_.push_back(std::make_unique<ConnectorSinkOperator>(std::move(s), stats_));
    describe("sink " + std::string(plan.sink.connector->name()) + " " + plan.sink.name,
             plan.root->desc);
  }
  sink = operators_.back().get();
  build(plan.root.get(), sink, 0);
}

Dataflow::~Dataflow() = default;

namespace {

// " keys N, aggregates f(types), ..." for the fingerprint.
std::string aggregates_of(int num_keys, const std::vector<AggregateSpec>& aggs) {
  std::string out = ", " + std::to_string(num_keys) + " keys, aggregates";
  for (const AggregateSpec& a : aggs)
    out += pg::call([&] {
      return (const char*)format_procedure_qualified(a.aggref->aggfnoid);
    }) + std::string(a.distinct ? " distinct" : "") + (a.filter_col >= 0 ? " filtered" : "") + ";";
  return out;
}

std::string window_of(const WindowSpec& w) {
  const char* kind = w.kind == WindowSpec::Kind::Tumble ? "tumble"
                     : w.kind == WindowSpec::Kind::Hop  ? "hop"
                                                        : "session";
  return std::string("window ") + kind + " " + std::to_string(w.width_us) + "/" +
         std::to_string(w.slide_us) + "/" + std::to_string(w.gap_us) + "us";
}

}  // namespace

// Appends one node's line to the fingerprint: what it is and the types of its rows.
void Dataflow::describe(const std::string& what, TupleDesc desc) {
  std::string line = what + " (";
  pg::call([&] {
    for (int i = 0; i < desc->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      if (i) line += ", ";
      line += att->attisdropped ? "dropped"
                                : (const char*)format_type_with_typemod(att->atttypid, att->atttypmod);
    }
  });
  fingerprint_ += line + ")\n";
}

// Creates the operators for `node` and its inputs, feeding `downstream` on `port`.
Operator* Dataflow::build(PlanNode* node, Operator* downstream, int port) {
  switch (node->kind) {
    case PlanNode::Kind::Source: {
      auto* src = static_cast<SourceNode*>(node);
      SourceRun run;
      describe("source " + std::string(src->connector->name()) + " " + src->spec.name,
               src->desc);
      auto wm = std::make_unique<WatermarkOperator>(src->time_column, src->watermark_delay_us,
                                                    src->idle_timeout_us, stats_);
      wm->set_not_null_columns(src->not_null_columns);
      wm->connect(downstream, port);
      run.watermark = wm.get();
      run.downstream = wm.get();
      run.port = 0;
      operators_.push_back(std::move(wm));
      if (src->generated) {
        auto gen = std::make_unique<ProjectOperator>(src->desc, src->desc, nullptr,
                                                     src->generated, round_memory_);
        gen->connect(run.downstream, 0);
        run.downstream = gen.get();
        operators_.push_back(std::move(gen));
      }
      run.source = src->connector->make_source(src->spec);
      run.name = src->spec.name;
      run.source->open(info_);
      run.batch = std::make_unique<Batch>(src->desc->natts);
      sources_.push_back(std::move(run));
      return nullptr;
    }
    case PlanNode::Kind::UpdatingAggregate: {
      auto* u = static_cast<UpdatingAggregateNode*>(node);
      describe("updating aggregate" + aggregates_of(u->num_keys, u->aggregates), u->desc);
      auto op = std::make_unique<UpdatingAggregateOperator>(*u, ttl_us_, round_memory_);
      Operator* self = op.get();
      op->connect(downstream, port);
      operators_.push_back(std::move(op));
      has_updating_ = true;
      build(u->input.get(), self, 0);
      return self;
    }
    case PlanNode::Kind::WindowAggregate: {
      auto* w = static_cast<WindowAggregateNode*>(node);
      describe(window_of(w->window) + aggregates_of(w->num_keys, w->aggregates), w->desc);
      auto op = std::make_unique<WindowAggregateOperator>(*w, stats_, round_memory_);
      Operator* self = op.get();
      op->connect(downstream, port);
      operators_.push_back(std::move(op));
      build(w->input.get(), self, 0);
      return self;
    }
    case PlanNode::Kind::Project: {
      auto* p = static_cast<ProjectNode*>(node);
      describe("project", p->desc);
      auto op = std::make_unique<ProjectOperator>(p->input->desc, p->desc, p->quals, p->targets,
                                                  round_memory_);
      Operator* self = op.get();
      op->connect(downstream, port);
      operators_.push_back(std::move(op));
      build(p->input.get(), self, 0);
      return self;
    }
    case PlanNode::Kind::Union: {
      auto* u = static_cast<UnionNode*>(node);
      describe("union of " + std::to_string(u->inputs.size()), u->desc);
      auto op = std::make_unique<UnionAllOperator>(int(u->inputs.size()));
      Operator* self = op.get();
      op->connect(downstream, port);
      operators_.push_back(std::move(op));
      for (size_t i = 0; i < u->inputs.size(); i++) build(u->inputs[i].get(), self, int(i));
      return self;
    }
  }
  return nullptr;
}

void Dataflow::begin_transaction() {
  for (auto& op : operators_) op->begin_transaction();
}

void Dataflow::flush() {
  last_flush_ = GetCurrentTimestamp();
  for (auto& run : sources_)
    if (!run.ended) run.downstream->flush();
  pg::call([&] { MemoryContextReset(round_memory_); });
}

void Dataflow::prefetch() {
  for (auto& run : sources_)
    if (!run.ended) run.source->prefetch();
}

void Dataflow::committed() {
  for (auto& run : sources_) run.source->committed();
  if (sink_) sink_->committed();
}

bool Dataflow::changed() const {
  return stats_.rows_in != checkpointed_.rows_in || stats_.rows_out != checkpointed_.rows_out ||
         stats_.watermark != checkpointed_.watermark ||
         stats_.bad_rows != checkpointed_.bad_rows;
}

void Dataflow::checkpoint(CheckpointStore& store) {
  for (size_t i = 0; i < operators_.size(); i++) {
    StateWriter w = store.writer(int32(i));
    operators_[i]->checkpoint(w);
  }
  for (size_t i = 0; i < sources_.size(); i++) {
    StateWriter w = store.writer(-1 - int32(i));
    sources_[i].source->checkpoint(w);
  }
  checkpointed_ = stats_;
}

void Dataflow::restore(CheckpointStore& store) {
  store.load([&](const StateEntry& e) {
    if (e.node >= 0 && size_t(e.node) < operators_.size())
      operators_[e.node]->restore(e);
    else if (e.node < 0 && size_t(-1 - e.node) < sources_.size())
      sources_[-1 - e.node].source->restore(e);
    else
      pg::fail(ERRCODE_DATA_CORRUPTED,
               "checkpoint is corrupt: it has state for node " + std::to_string(e.node) +
                   ", which this pipeline does not have");
  });
  for (auto& op : operators_) op->restored();
}

bool Dataflow::wants_snapshot() const {
  for (auto& run : sources_)
    if (run.source->wants_snapshot()) return true;
  return false;
}

void Dataflow::begin_snapshot() {
  for (auto& run : sources_)
    if (run.source->wants_snapshot()) run.source->begin_snapshot();
}

bool Dataflow::snapshot_done() const {
  for (auto& run : sources_)
    if (!run.source->snapshot_done()) return false;
  return true;
}

void Dataflow::snapshot_committed() {
  for (auto& run : sources_)
    if (run.source->wants_snapshot()) run.source->snapshot_committed();
}

void Dataflow::end_transaction() {
  for (auto& op : operators_) op->end_transaction();
}

RoundResult Dataflow::run_round() {
  RoundResult result;
  bool any_data = false, all_ended = true;
  TimestampTz wake = 0;
  for (auto& run : sources_) {
    if (run.ended) continue;
    MemoryContext old = MemoryContextSwitchTo(round_memory_);
    PollResult r = run.source->poll(*run.batch);
    MemoryContextSwitchTo(old);
    if (const std::vector<int32>* splits = run.source->active_splits())
      run.watermark->set_splits(*splits, GetCurrentTimestamp());
    if (!run.batch->empty()) {
      any_data = true;
      stats_.rows_in += run.batch->size();
      run.downstream->push(run.port, *run.batch);
      run.batch->clear();
    }
    if (r.kind == PollResult::Ended) {
      run.ended = true;
      run.downstream->end(run.port);
      continue;
    }
    all_ended = false;
    if (r.kind == PollResult::Idle) {
      run.watermark->check_idle(GetCurrentTimestamp());
      if (r.wake_at && (!wake || r.wake_at < wake)) wake = r.wake_at;
    }
  }
  if (has_updating_ && !all_ended && GetCurrentTimestamp() >= last_flush_ + flush_us_) {
    last_flush_ = GetCurrentTimestamp();
      for (auto& run : sources_)
      if (!run.ended) run.downstream->flush();
  }
  int64 bad = 0;
  for (auto& run : sources_) bad += run.source->bad_rows();
  stats_.bad_rows = bad + stats_.bad_rows_engine;
  if (GetCurrentTimestamp() - last_measure_ >= USECS_PER_SEC) measure_state();
  collect_source_status();
  pg::call([&] { MemoryContextReset(round_memory_); });
  result.all_ended = all_ended;
  result.idle = !any_data && !all_ended;
  result.wake_at = wake;
  return result;
}

void Dataflow::measure_state() {
  int64 bytes = 0;
  for (auto& op : operators_) bytes += op->state_bytes();
  for (auto& run : sources_) bytes += run.source->state_bytes();
  stats_.state_bytes = bytes;
  last_measure_ = GetCurrentTimestamp();
}

// Joins the sources' status lines into stats_.source_status ("name: status; ..." when more
// than one source reports one).
void Dataflow::collect_source_status() {
  std::vector<std::pair<const std::string*, std::string>> lines;
  for (auto& run : sources_) {
    std::string line = run.source->status();
    if (!line.empty()) lines.emplace_back(&run.name, std::move(line));
  }
  std::string out;
  for (auto& [name, line] : lines) {
    if (!out.empty()) out += "; ";
    if (lines.size() > 1) out += *name + ": ";
    out += line;
  }
  stats_.source_status = std::move(out);
}

void Dataflow::close() {
  for (auto& run : sources_) run.source->close();
  for (auto& op : operators_)
    if (auto* s = dynamic_cast<ConnectorSinkOperator*>(op.get())) s->sink().close();
}

}  // namespace arroyo
