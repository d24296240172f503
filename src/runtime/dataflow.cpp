#include "runtime/dataflow.hpp"

#include "operators/connector_sink.hpp"
#include "operators/join.hpp"
#include "operators/lookup_join.hpp"
#include "operators/project.hpp"
#include "operators/project_set.hpp"
#include "operators/table_sink.hpp"
#include "operators/top_n.hpp"
#include "operators/union_all.hpp"
#include "operators/updating_aggregate.hpp"
#include "operators/window_aggregate.hpp"
#include "operators/window_function.hpp"
#include "operators/window_partial.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"

extern "C" {
#include "utils/regproc.h"
}

namespace arroyo {

namespace {

// A sink in a worker other than worker 0 for a connector whose sink does not split: the
// exchange before it gathers every row into worker 0, so it never gets any.
class GatheredSink : public Sink {
 public:
  void write(const Batch&) override {}
};

// A source in a worker other than worker 0 for a connector that does not split its reading:
// worker 0 reads it all.
class NoShareSource : public Source {
 public:
  PollResult poll(Batch&) override { return PollResult::ended(); }
};

// Columns 0 .. n - 1.
std::vector<int> first_columns(int n) {
  std::vector<int> out;
  for (int i = 0; i < n; i++) out.push_back(i);
  return out;
}

}  // namespace

Dataflow::Dataflow(LogicalPlan& plan, MemoryContext round_memory, const RuntimeInfo& info,
                   int64 ttl_us, int64 flush_us, std::unique_ptr<Sink> preview_sink,
                   WorkerLinks* links)
    : round_memory_(round_memory), info_(info), ttl_us_(ttl_us), flush_us_(flush_us) {
  last_flush_ = GetCurrentTimestamp();
  settings_ = plan.settings;
  if (links && info.parallelism > 1) {
    links_ = links;
    subtask_ = info.subtask_index;
    parallelism_ = info.parallelism;
  }
  int sink;
  // Several workers: rows of an updating target are routed by its key (by the whole row
  // without one), so that no two workers ever write the same key; a sink that does not split
  // gets every row in worker 0.
  std::vector<int> sink_keys;
  bool sink_exchange = false;
  if (plan.sink.is_table) {
    sink = add(std::make_unique<TableSinkOperator>(plan.sink, stats_, info.pipeline_name));
    describe("sink table " + plan.sink.name, plan.root->desc);
    sink_exchange = plan.sink.updating;
    // A global result (no key, not whole rows) is one row, replaced by worker 0.
    if (plan.sink.updating)
      sink_keys = !plan.sink.key_columns.empty() ? plan.sink.key_columns
                  : plan.sink.whole_rows         ? first_columns(plan.root->desc->natts)
                                                 : std::vector<int>{};
  } else {
    bool splits = plan.sink.preview || plan.sink.connector->splits_sink(plan.sink.spec);
    std::unique_ptr<Sink> s;
    if (plan.sink.preview)
      s = std::move(preview_sink);
    else if (!splits && subtask_ > 0)
      s = std::make_unique<GatheredSink>();
    else
      s = plan.sink.connector->make_sink(plan.sink.spec);
    if (plan.sink.updating) s->set_key_columns(plan.sink.key_columns);
    s->open(info_);
    sink_ = s.get();
    sink = add(std::make_unique<ConnectorSinkOperator>(std::move(s), stats_));
    if (splits && !plan.sink.preview) moves_.back() = StateMove::Inherit;
    describe(plan.sink.preview
                 ? std::string("sink preview")
                 : "sink " + std::string(plan.sink.connector->name()) + " " + plan.sink.name,
             plan.root->desc);
    sink_exchange = !splits || plan.sink.updating;
    // An updating stream into a sink of several writers: each key's changes by one of them.
    if (splits && plan.sink.updating)
      sink_keys = plan.sink.key_columns.empty() ? first_columns(plan.root->desc->natts)
                                                : plan.sink.key_columns;
  }
  int root = build(plan.root.get());
  if (sink_exchange && links_) root = exchanged(root, plan.root->desc, sink_keys);
  graph_.connect(root, sink, 0);
  graph_.seal();
  sink_node_ = sink;
  if (links_) {
    // Barriers go upstream first: an exchange's barrier follows every row its upstream
    // exchanges delivered.
    std::vector<int> position(size_t(graph_.size()));
    for (size_t i = 0; i < graph_.upstream_first().size(); i++)
      position[size_t(graph_.upstream_first()[i])] = int(i);
    for (size_t x = 0; x < exchanges_.size(); x++) barrier_order_.push_back(int(x));
    std::sort(barrier_order_.begin(), barrier_order_.end(), [&](int a, int b) {
      return position[size_t(exchanges_[size_t(a)].merge)] <
             position[size_t(exchanges_[size_t(b)].merge)];
    });
    describe("parallelism " + std::to_string(parallelism_), nullptr);
  }
  plan_metering(plan, sink);
}

Dataflow::~Dataflow() = default;

namespace {

// The input columns (0-based) of key expressions that are all plain columns; fewer when one
// is an expression.
std::vector<int> key_columns_of(List* keys) {
  std::vector<int> out;
  ListCell* lc;
  foreach (lc, keys) {
    Node* k = (Node*)lfirst(lc);
    while (k && IsA(k, RelabelType)) k = (Node*)((RelabelType*)k)->arg;
    if (k && IsA(k, Var)) out.push_back(((Var*)k)->varattno - 1);
  }
  return out;
}

// " keys N, aggregates f(types), ..." for the fingerprint.
std::string aggregates_of(int num_keys, const std::vector<AggregateSpec>& aggs) {
  std::string out = ", " + std::to_string(num_keys) + " keys, aggregates";
  for (const AggregateSpec& a : aggs)
    out += pg::call([&] { return (const char*)format_procedure_qualified(a.aggref->aggfnoid); }) +
           std::string(a.distinct ? " distinct" : "") + (a.filter_col >= 0 ? " filtered" : "") +
           ";";
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
  if (!desc) {
    fingerprint_ += what + "\n";
    return;
  }
  std::string line = what + " (";
  pg::call([&] {
    for (int i = 0; i < desc->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      if (i) line += ", ";
      line += att->attisdropped
                  ? "dropped"
                  : (const char*)format_type_with_typemod(att->atttypid, att->atttypmod);
    }
  });
  fingerprint_ += line + ")\n";
}

int Dataflow::add(std::unique_ptr<Operator> op) {
  operators_.push_back(op.get());
  moves_.push_back(StateMove::Stay);
  return graph_.add(std::move(op));
}

// Creates the operators for `node` and its inputs. A node comes before its inputs in the
// checkpoint numbering (as in the chain of earlier versions, whose checkpoints stay valid).
int Dataflow::build(PlanNode* node) {
  if (auto it = built_.find(node); it != built_.end()) return it->second;
  int self = -1;
  bool gathered = false;  // a keyed operator without keys: its rows all go to worker 0
  MemoryContext memory = rows_memory(node);
  switch (node->kind) {
    case PlanNode::Kind::Source: {
      // source -> (generated columns) -> watermark: the watermark node gives the rows.
      auto* src = static_cast<SourceNode*>(node);
      SourceRun run;
      describe("source " + std::string(src->connector->name()) + " " + src->spec.name, src->desc);
      auto wm = std::make_unique<WatermarkOperator>(src->time_column, src->watermark_delay_us,
                                                    src->idle_timeout_us, stats_);
      wm->set_not_null_columns(src->not_null_columns);
      run.watermark = wm.get();
      self = add(std::move(wm));
      if (src->connector->splits_source(src->spec)) moves_.back() = run.move = StateMove::Split;
      int first = self;
      if (src->generated) {
        first = add(std::make_unique<ProjectOperator>(src->desc, src->desc, nullptr, src->generated,
                                                      round_memory_));
        graph_.connect(first, self, 0);
      }
      run.node = graph_.add(nullptr);
      graph_.connect(run.node, first, 0);
      source_nodes_[node] =
          first == self ? std::vector<int>{run.node} : std::vector<int>{run.node, first};
      run.unshared = subtask_ > 0 && !src->connector->splits_source(src->spec);
      if (run.unshared)
        run.source = std::make_unique<NoShareSource>();
      else
        run.source = src->connector->make_source(src->spec);
      run.name = src->spec.name;
      run.source->open(info_);
      run.batch = std::make_unique<Batch>(src->desc->natts);
      sources_.push_back(std::move(run));
      break;
    }
    case PlanNode::Kind::UpdatingAggregate: {
      auto* u = static_cast<UpdatingAggregateNode*>(node);
      describe("updating aggregate" + aggregates_of(u->num_keys, u->aggregates), u->desc);
      self = add(std::make_unique<UpdatingAggregateOperator>(*u, ttl_us_, memory));
      has_updating_ = true;
      gathered = u->num_keys == 0;
      keyed(gathered);
      graph_.connect(exchanged(build(u->input.get()), u->input->desc, first_columns(u->num_keys)),
                     self, 0);
      break;
    }
    case PlanNode::Kind::WindowAggregate: {
      auto* w = static_cast<WindowAggregateNode*>(node);
      describe(window_of(w->window) + aggregates_of(w->num_keys, w->aggregates), w->desc);
      auto op = std::make_unique<WindowAggregateOperator>(*w, stats_, memory);
      // Several workers: each aggregates its own rows first where the aggregates combine, and
      // only the partial states cross (two-phase aggregation, window_partial.hpp).
      bool two_phase = links_ && WindowPartialOperator::applies(*w);
      if (two_phase) op->take_partials();
      self = add(std::move(op));
      gathered = w->num_keys == 0;
      keyed(gathered);
      int input = build(w->input.get());
      if (!two_phase) {
        graph_.connect(exchanged(input, w->input->desc, first_columns(w->num_keys)), self, 0);
        break;
      }
      TupleDesc partial_desc = WindowPartialOperator::partial_desc(*w);
      auto partial = std::make_unique<WindowPartialOperator>(*w, partial_desc, memory);
      WindowPartialOperator* first_phase = partial.get();
      partials_.push_back(first_phase);
      int partial_node = graph_.add(std::move(partial));  // not numbered: it keeps no state
      graph_.connect(input, partial_node, 0);
      std::vector<int> keys;
      for (int k = 0; k < w->num_keys; k++) keys.push_back(1 + k);
      graph_.connect(exchanged(partial_node, partial_desc, keys), self, 0);
      exchanges_.back().partial = first_phase;
      exchanges_.back().partial_node = partial_node;
      partial_node_[node] = partial_node;
      break;
    }
    case PlanNode::Kind::Project: {
      auto* p = static_cast<ProjectNode*>(node);
      describe("project", p->desc);
      self = add(
          std::make_unique<ProjectOperator>(p->input->desc, p->desc, p->quals, p->targets, memory));
      graph_.connect(build(p->input.get()), self, 0);
      break;
    }
    case PlanNode::Kind::Join: {
      auto* j = static_cast<JoinNode*>(node);
      static const char* const types[] = {"inner", "left", "right", "full", "semi", "anti"};
      describe(std::string("join ") + types[int(j->type)] + ", " +
                   std::to_string(list_length(j->left_keys)) + " keys" +
                   (j->residual ? ", residual" : "") + (j->window_key >= 0 ? ", windowed" : "") +
                   (j->interval() ? ", interval" : ""),
               j->desc);
      self = add(std::make_unique<JoinOperator>(*j, ttl_us_, memory));
      // Both sides by their keys when every key is a column (else both gathered in worker 0).
      std::vector<int> lk = key_columns_of(j->left_keys), rk = key_columns_of(j->right_keys);
      if (lk.size() != size_t(list_length(j->left_keys)) ||
          rk.size() != size_t(list_length(j->right_keys)))
        lk.clear(), rk.clear();
      gathered = lk.empty();
      keyed(gathered);
      graph_.connect(exchanged(build(j->left.get()), j->left->desc, lk), self, 0);
      graph_.connect(exchanged(build(j->right.get()), j->right->desc, rk), self, 1);
      break;
    }
    case PlanNode::Kind::LookupJoin: {
      auto* l = static_cast<LookupJoinNode*>(node);
      describe(std::string("lookup join ") + (l->left ? "left" : "inner") + ", " +
                   std::to_string(l->param_columns.size()) + " keys",
               l->desc);
      self = add(std::make_unique<LookupJoinOperator>(*l, settings_, round_memory_));
      graph_.connect(build(l->input.get()), self, 0);
      break;
    }
    case PlanNode::Kind::WindowFunction: {
      auto* w = static_cast<WindowFunctionNode*>(node);
      describe(std::string("window functions ") + (w->per_key ? "per key" : "per closed window") +
                   ", " + std::to_string(w->partition_cols.size()) + " keys, back " +
                   std::to_string(w->lookback_rows) + " rows/" + std::to_string(w->lookback_us) +
                   "us" + (w->keep_first ? "/first" : "") + ", ahead " +
                   std::to_string(w->lookahead_rows),
               w->desc);
      self = add(std::make_unique<WindowFunctionOperator>(*w, stats_, round_memory_));
      std::vector<int> keys = w->per_key ? w->partition_cols : std::vector<int>{};
      gathered = keys.empty();
      keyed(gathered);
      graph_.connect(exchanged(build(w->input.get()), w->input->desc, keys), self, 0);
      break;
    }
    case PlanNode::Kind::TopN: {
      auto* t = static_cast<TopNNode*>(node);
      static const char* const ranks[] = {"row_number", "rank", "dense_rank"};
      describe(std::string("top ") + std::to_string(t->limit) + " by " + ranks[int(t->rank)] +
                   (t->windowed ? " per window" : " updating") + ", " +
                   std::to_string(t->partition_cols.size()) + " keys, " +
                   std::to_string(t->order.size()) + " sort keys",
               t->desc);
      self = add(std::make_unique<TopNOperator>(*t, stats_, round_memory_));
      if (!t->windowed) has_updating_ = true;
      gathered = t->partition_cols.empty();
      keyed(gathered);
      graph_.connect(exchanged(build(t->input.get()), t->input->desc, t->partition_cols), self, 0);
      break;
    }
    case PlanNode::Kind::ProjectSet: {
      auto* p = static_cast<ProjectSetNode*>(node);
      describe(std::string("project set") + (p->ordinality ? ", ordinality" : "") +
                   (p->outer ? ", outer" : "") + (p->quals ? ", quals" : ""),
               p->desc);
      self = add(std::make_unique<ProjectSetOperator>(*p, consumers_memory(p)));
      graph_.connect(build(p->input.get()), self, 0);
      break;
    }
    case PlanNode::Kind::Union: {
      auto* u = static_cast<UnionNode*>(node);
      describe("union of " + std::to_string(u->inputs.size()), u->desc);
      self = add(std::make_unique<UnionAllOperator>());
      for (size_t i = 0; i < u->inputs.size(); i++)
        graph_.connect(build(u->inputs[i].get()), self, int(i));
      break;
    }
  }
  // A keyed operator whose rows all went to worker 0 emits nothing elsewhere.
  self = gathered_output(self, gathered);
  built_[node] = self;
  return self;
}

MemoryContext Dataflow::rows_memory(PlanNode* node) {
  PlanNode* input = nullptr;
  switch (node->kind) {
    case PlanNode::Kind::Project: input = static_cast<ProjectNode*>(node)->input.get(); break;
    case PlanNode::Kind::WindowAggregate:
      input = static_cast<WindowAggregateNode*>(node)->input.get();
      break;
    case PlanNode::Kind::UpdatingAggregate:
      input = static_cast<UpdatingAggregateNode*>(node)->input.get();
      break;
    case PlanNode::Kind::Join: input = static_cast<JoinNode*>(node)->left.get(); break;
    case PlanNode::Kind::Union: input = static_cast<UnionNode*>(node)->inputs[0].get(); break;
    case PlanNode::Kind::ProjectSet: input = static_cast<ProjectSetNode*>(node)->input.get(); break;
    default: break;
  }
  if (!input) return round_memory_;
  if (input->kind != PlanNode::Kind::ProjectSet) return rows_memory(input);
  return consumers_memory(input);
}

// The context the consumers of a set-returning node compute their rows in.
MemoryContext Dataflow::consumers_memory(PlanNode* set) {
  MemoryContext& m = set_memory_[set];
  if (!m)
    m = pg::call([&] {
      return AllocSetContextCreate(MemoryContextGetParent(round_memory_),
                                   "arroyo_stream set-returning rows", ALLOCSET_DEFAULT_SIZES);
    });
  return m;
}

void Dataflow::reset_round_memory() {
  pg::call([&] {
    MemoryContextReset(round_memory_);
    for (auto& [node, memory] : set_memory_) MemoryContextReset(memory);
  });
}

void Dataflow::begin_transaction() { graph_.begin_transaction(); }

void Dataflow::flush() {
  last_flush_ = GetCurrentTimestamp();
  graph_.flush();
  reset_round_memory();
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
         stats_.watermark != checkpointed_.watermark || stats_.bad_rows != checkpointed_.bad_rows ||
         stats_.frames_in != checkpointed_.frames_in || rows_sent() != checkpointed_rows_sent_ ||
         rescaled_from_ != 0;
}

int64 Dataflow::rows_sent() const {
  int64 n = 0;
  for (const ExchangeRun& x : exchanges_) n += x.op->rows_sent();
  return n;
}

// Every node that keeps state writes under its checkpoint id: operators 0, 1, … and sources
// -1, -2, … in the order build() met them, which depends only on the plan (whose shape the
// fingerprint guards).
//
// Several workers keep their entries apart: worker w's node ids are shifted by w times
// kWorkerNodeStride (worker 0's are those of a pipeline with one worker).
//
// The first checkpoint after a rescaled restore rewrites the state that moved: it deletes
// this worker's old entries of those nodes first (and worker 0 every entry of the old workers
// the pipeline no longer has), in the same transaction as the new ones.
void Dataflow::checkpoint(CheckpointStore& store) {
  int32 shift = int32(subtask_) * kWorkerNodeStride;
  if (rescaled_from_) {
    for (size_t i = 0; i < operators_.size(); i++)
      if (moves_[i] != StateMove::Stay) store.writer(int32(i) + shift).remove_node();
    for (size_t i = 0; i < sources_.size(); i++)
      if (sources_[i].move != StateMove::Stay) store.writer(-1 - int32(i) - shift).remove_node();
    if (subtask_ == 0) store.remove_workers(parallelism_, rescaled_from_, kWorkerNodeStride);
  }
  for (size_t i = 0; i < operators_.size(); i++) {
    StateWriter w = store.writer(int32(i) + shift);
    operators_[i]->checkpoint(w);
  }
  for (size_t i = 0; i < sources_.size(); i++) {
    StateWriter w = store.writer(-1 - int32(i) - shift);
    sources_[i].source->checkpoint(w);
  }
  checkpointed_ = stats_;
  checkpointed_rows_sent_ = rows_sent();
  rescaled_from_ = 0;
}

bool Dataflow::takes_entry(StateMove move, int worker) const {
  if (!rescaled_from_) return worker == subtask_;
  switch (move) {
    case StateMove::Stay: return worker == subtask_;
    case StateMove::Split: return true;
    case StateMove::Inherit: return worker % parallelism_ == subtask_;
  }
  return false;
}

// Rescaling (old_parallelism differs from this run's): the nodes whose state moves are told
// first (Operator::rescale, Source::rescale), then get the entries takes_entry() routes to
// this worker.
void Dataflow::restore(CheckpointStore& store, int old_parallelism) {
  rescaled_from_ = old_parallelism != parallelism_ ? old_parallelism : 0;
  if (rescaled_from_) {
    KeyGroupFilter keep{subtask_, parallelism_};
    for (size_t i = 0; i < operators_.size(); i++)
      if (moves_[i] != StateMove::Stay && !operators_[i]->rescale(old_parallelism, keep))
        pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
                 "operator " + std::to_string(i) +
                     " cannot resume with another parallelism than its checkpoint's (" +
                     std::to_string(old_parallelism) + ")");
    for (SourceRun& run : sources_)
      if (run.move != StateMove::Stay) run.source->rescale(old_parallelism);
  }
  store.load([&](const StateEntry& stored) {
    if (stored.node == kGroupStateNode) return;  // the leader's record of committed epochs
    int32 worker =
        stored.node >= 0 ? stored.node / kWorkerNodeStride : (-1 - stored.node) / kWorkerNodeStride;
    StateEntry e = stored;
    int32 shift = worker * kWorkerNodeStride;
    e.node = e.node >= 0 ? e.node - shift : e.node + shift;
    e.worker = worker;
    if (e.node >= 0 && size_t(e.node) < operators_.size()) {
      if (takes_entry(moves_[size_t(e.node)], worker)) operators_[size_t(e.node)]->restore(e);
    } else if (e.node < 0 && size_t(-1 - e.node) < sources_.size()) {
      SourceRun& run = sources_[size_t(-1 - e.node)];
      if (takes_entry(run.move, worker)) run.source->restore(e);
    } else {
      pg::fail(ERRCODE_DATA_CORRUPTED, "checkpoint is corrupt: it has state for node " +
                                           std::to_string(e.node) +
                                           ", which this pipeline does not have");
    }
  });
  for (Operator* op : operators_) op->restored();
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

void Dataflow::end_transaction() { graph_.end_transaction(); }

RoundResult Dataflow::run_round() {
  RoundResult result;
  bool any_data = false, all_ended = true;
  TimestampTz wake = 0;
  // Several workers: what the others sent first; no source is read while a barrier is under
  // way or while too many frames wait to be sent (backpressure).
  bool read_sources = true;
  if (links_) {
    if (receive_frames() > 0) any_data = true;
    read_sources = !in_barrier_ && links_->queued_bytes() < kMaxQueuedBytes;
  }
  for (auto& run : sources_) {
    if (run.ended) continue;
    if (!read_sources) {
      all_ended = false;
      continue;
    }
    MemoryContext old = MemoryContextSwitchTo(round_memory_);
    PollResult r = [&] {
      Graph::Busy busy(graph_, run.node);
      return run.source->poll(*run.batch);
    }();
    MemoryContextSwitchTo(old);
    // A split the poll finished (a Kafka partition at its end) leaves the watermark only after
    // its last rows have passed: taken out before, the others' times would make them late.
    const std::vector<int32>* splits = run.source->active_splits();
    if (splits) run.watermark->set_splits(*splits, GetCurrentTimestamp(), false);
    if (!run.batch->empty()) {
      any_data = true;
      stats_.rows_in += run.batch->size();
      graph_.output(run.node).push(*run.batch);
      run.batch->clear();
    }
    if (splits) run.watermark->set_splits(*splits, GetCurrentTimestamp());
    if (r.kind == PollResult::Ended) {
      run.ended = true;
      graph_.output(run.node).end();
      continue;
    }
    all_ended = false;
    if (r.kind == PollResult::Idle) {
      if (!run.source->has_share())
        run.watermark->go_idle();
      else
        run.watermark->check_idle(GetCurrentTimestamp());
      if (r.wake_at && (!wake || r.wake_at < wake)) wake = r.wake_at;
    }
  }
  if (links_) {
    links_->flush();
    // The sink ends only once every other worker's rows have ended too.
    all_ended = all_ended && graph_.ended(sink_node_);
  }
  if (has_updating_ && !all_ended && !in_barrier_ &&
      GetCurrentTimestamp() >= last_flush_ + flush_interval()) {
    last_flush_ = GetCurrentTimestamp();
    graph_.flush();
    flush_cost_us_ = GetCurrentTimestamp() - last_flush_;
  }
  int64 bad = 0;
  for (auto& run : sources_) bad += run.source->bad_rows();
  stats_.bad_rows = bad + stats_.bad_rows_engine;
  if (GetCurrentTimestamp() - last_measure_ >= USECS_PER_SEC) measure_state();
  collect_source_status();
  collect_node_stats();
  reset_round_memory();
  result.all_ended = all_ended;
  result.idle = !any_data && !all_ended;
  result.wake_at = wake;
  return result;
}

void Dataflow::measure_state() {
  int64 bytes = 0;
  for (Operator* op : operators_) bytes += op->state_bytes();
  for (Operator* op : partials_) bytes += op->state_bytes();
  for (auto& run : sources_) bytes += run.source->state_bytes();
  stats_.state_bytes = bytes;
  for (Metered& m : metered_) {
    m.state_bytes = 0;
    m.state_keys = -1;
    if (m.source >= 0) m.state_bytes += sources_[m.source].source->state_bytes();
    for (int n : m.graph_nodes)
      if (Operator* op = graph_.op(n)) {
        m.state_bytes += op->state_bytes();
        int64 keys = op->state_keys();
        if (keys >= 0) m.state_keys = std::max<int64>(m.state_keys, 0) + keys;
      }
  }
  collect_node_stats();
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
  // Sinks and lookups report their connections too (their lines name themselves).
  static const std::string unnamed;
  for (Operator* op : operators_) {
    std::string line = op->status();
    if (!line.empty()) lines.emplace_back(&unnamed, std::move(line));
  }
  std::string out;
  for (auto& [name, line] : lines) {
    if (!out.empty()) out += "; ";
    if (lines.size() > 1 && !name->empty()) out += *name + ": ";
    out += line;
  }
  stats_.source_status = std::move(out);
}

void Dataflow::close() {
  for (auto& run : sources_) run.source->close();
  for (Operator* op : operators_)
    if (auto* s = dynamic_cast<ConnectorSinkOperator*>(op)) s->sink().close();
}

}  // namespace arroyo
