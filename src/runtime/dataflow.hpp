// A pipeline's running dataflow: the graph (runtime/graph.hpp) of sources, operators and the
// sink built from a LogicalPlan, driven round by round by the pipeline worker.
#pragma once

#include "core/connector.hpp"
#include "core/operator.hpp"
#include "operators/watermark.hpp"
#include "core/plan.hpp"
#include "runtime/exchange.hpp"
#include "runtime/graph.hpp"

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

namespace arroyo {

class CheckpointStore;
class WindowPartialOperator;

// Several workers' checkpoint entries: worker w's node ids are shifted by w times this.
constexpr int32 kWorkerNodeStride = 1 << 20;
// The node of the leader's record of the epochs it committed (worker/group_run.cpp).
constexpr int32 kGroupStateNode = INT32_MIN;
// Frames waiting to be sent past which a worker stops reading its sources.
constexpr size_t kMaxQueuedBytes = 8 * 1024 * 1024;

struct RoundResult {
  bool all_ended = false;   // every source ended and the end has flowed to the sink
  bool idle = false;        // no source produced data this round
  TimestampTz wake_at = 0;  // for idle: the earliest time a source expects data (0 = unknown)
};

class Dataflow {
 public:
  // Builds operators for `plan`; memory for per-round values comes from `round_memory`.
  // Updating aggregates keep state for ttl_us and flush every flush_us. A preview's plan
  // (SinkTarget::preview) writes its rows to `preview_sink`.
  // A pipeline running as several workers (info.parallelism > 1) gives this worker's `links`
  // to the others: the dataflow then exchanges rows by key before each keyed operator.
  Dataflow(LogicalPlan& plan, MemoryContext round_memory, const RuntimeInfo& info, int64 ttl_us,
           int64 flush_us, std::unique_ptr<Sink> preview_sink = nullptr,
           WorkerLinks* links = nullptr);
  ~Dataflow();

  void begin_transaction();
  // Polls every live source once and pushes what it produced through the pipeline.
  RoundResult run_round();
  void end_transaction();
  // Tells the sources that what they produced so far is committed.
  void committed();
  // Lets sources fetch outside a transaction (see Source::prefetch).
  void prefetch();
  // Sources that start from a consistent snapshot (see Source::wants_snapshot).
  bool wants_snapshot() const;
  void begin_snapshot();
  bool snapshot_done() const;
  void snapshot_committed();
  // Emits what updating aggregates have buffered (also done every flush interval).
  void flush();

  // --- several workers (runtime/dataflow_exchange.cpp) ---
  // Ends epoch `seq` in this worker: stops reading sources and, exchange by exchange upstream
  // first, sends the epoch's barrier to every other worker after the rows before it, then
  // processes what arrives until every other worker's barrier has too. Once the last exchange
  // has all of them, no row of the epoch is in flight. `flush_stages`: flush after each
  // exchange (a stop: what updating operators buffered reaches the target before it ends).
  void begin_barrier(int64 seq, bool flush_stages);
  // Makes progress on the barrier; true when it is complete (then sources are read again).
  bool barrier_round();
  // Before anything flows: ends the sources this worker has no share of, so that every other
  // worker knows those inputs are empty (after a barrier) before it reads its own. Otherwise
  // they would hold its watermark back until their end arrived, and a window would close later
  // than with one worker, taking rows that one worker would have dropped as late.
  void end_unshared_sources();
  // When the next flush is due (0: no updating aggregate, nothing to flush).
  TimestampTz next_flush() const { return has_updating_ ? last_flush_ + flush_interval() : 0; }
  // The flush interval in effect: the configured one, stretched to kSlowFactor times what the
  // last periodic flush and the last checkpoint took together when they take longer than that
  // allows — so that flushes and checkpoints that cannot keep up coalesce more changes each
  // instead of taking all the time. Results are then fresh within about that interval.
  int64 flush_interval() const { return std::max(flush_us_, slow_interval()); }
  // The same for epochs: the commit interval `configured`, stretched likewise.
  int64 epoch_interval(int64 configured) const { return std::max(configured, slow_interval()); }
  void checkpoint_took(int64 us) { checkpoint_cost_us_ = us; }
  // Flushing and checkpointing take at most about 1 / (1 + kSlowFactor) of the time.
  static constexpr int64 kSlowFactor = 3;
  void close();

  // The dataflow's shape, one line per node: kinds, column types, aggregates, source and sink
  // tables. A checkpoint is only valid for the dataflow that wrote it.
  const std::string& fingerprint() const { return fingerprint_; }
  // Writes what changed in every node since the last checkpoint into `store`.
  void checkpoint(CheckpointStore& store);
  // Loads the last checkpoint from `store` into the nodes (before anything runs), taken by
  // `old_parallelism` workers: another number than this run's rescales (see StateMove).
  void restore(CheckpointStore& store, int old_parallelism);
  // Whether anything happened since the last checkpoint (rows in or out, watermarks).
  bool changed() const;

  EngineStats& stats() { return stats_; }
  // Refreshes stats().nodes from the graph's meters (done after every round; also after a
  // round failed, runtime/dataflow_metrics.cpp).
  void collect_node_stats();
  // Recomputes stats().state_bytes (walks the operators' memory contexts), and each node's
  // state bytes and keys in stats().nodes.
  void measure_state();

 private:
  // How a node's checkpoint entries move when the pipeline resumes with another number of
  // workers than its checkpoint's (rescaling).
  enum class StateMove : uint8 {
    Stay,     // worker w's entries stay worker w's (state only worker 0 has: gathered
              // operators, sources and sinks that do not split; stateless nodes)
    Split,    // every old worker's entries to every worker, which keeps its own share: its
              // key groups (keyed operators), its sources' splits (a source that splits and
              // its watermark)
    Inherit,  // old worker w's entries to worker w % parallelism (a sink that splits)
  };
  // Whether stored entry `e` (of old worker `worker`) goes to this worker, and how.
  bool takes_entry(StateMove move, int worker) const;

  struct SourceRun {
    std::unique_ptr<Source> source;
    std::string name;  // the source table, for source_status
    std::unique_ptr<Batch> batch;
    int node;  // its node in graph_ (no operator: rows go into its output)
    WatermarkOperator* watermark = nullptr;
    bool ended = false;
    bool unshared = false;  // another worker reads the source (NoShareSource)
    StateMove move = StateMove::Stay;
  };

  // Adds the nodes for `node` and its inputs (once for a node the plan reaches twice);
  // returns the graph node producing its rows.
  int build(PlanNode* node);
  // Adds an operator node; its checkpoint id is the next one (see checkpoint()).
  int add(std::unique_ptr<Operator> op);
  // Records that the operator last added is keyed: its state splits by key group unless
  // `gathered` (no keys: all of it in worker 0).
  void keyed(bool gathered) { moves_.back() = gathered ? StateMove::Stay : StateMove::Split; }
  void describe(const std::string& what, TupleDesc desc);
  // Inserts an exchange after graph node `producer` (rows of `desc`), routing by `keys`
  // (gathering into worker 0 with none); returns the node giving the rows this worker owns.
  // Without other workers, `producer` itself.
  int exchanged(int producer, TupleDesc desc, std::vector<int> keys);
  // After a keyed operator whose input was gathered into worker 0 (no keys): in the other
  // workers, which get none of its rows, a node dropping what the operator emits anyway (a
  // global aggregate's row over no input); returns the node giving the operator's rows.
  int gathered_output(int op_node, bool gathered);
  // Hands every frame that arrived from other workers to the graph; returns how many.
  int receive_frames();
  void on_frame(int from, char* data, size_t len);
  void collect_source_status();
  // The context an operator of `node` computes its rows in: the round's, or, downstream of a
  // set-returning function (which may turn one row into any number), that function's, which it
  // resets after each batch it emits.
  MemoryContext rows_memory(PlanNode* node);
  MemoryContext consumers_memory(PlanNode* set);
  // Resets the round's memory (and the set-returning functions' contexts).
  void reset_round_memory();
  // Numbers the plan's nodes as stream_explain does and lists the graph nodes of each.
  void plan_metering(const LogicalPlan& plan, int sink);
  // One plan node's graph nodes, for stream_operators.
  struct Metered {
    int id;
    std::string kind;
    std::vector<int> graph_nodes;  // all of them; the last produces its rows (the first takes
                                   // them in, where partial_node_ has one for the plan node)
    int source = -1;               // its index in sources_, for a source
    bool sink = false;
    int64 state_bytes = 0, state_keys = -1;  // as last measured
  };
  std::vector<Metered> metered_;
  std::unordered_map<PlanNode*, std::vector<int>> source_nodes_;  // source, generated columns
  // Window aggregates run in two phases: their first phase's node, and its operators.
  std::unordered_map<PlanNode*, int> partial_node_;
  std::vector<Operator*> partials_;
  MemoryContext round_memory_;
  std::unordered_map<PlanNode*, MemoryContext> set_memory_;
  RuntimeInfo info_;
  PipelineSettings settings_;  // the pipeline's SET statements (lookup.cache.*)
  int64 ttl_us_, flush_us_;
  bool has_updating_ = false;
  TimestampTz last_flush_ = 0;
  int64 flush_cost_us_ = 0;       // how long the last periodic flush took
  int64 checkpoint_cost_us_ = 0;  // how long the last checkpoint took
  int64 slow_interval() const { return kSlowFactor * (flush_cost_us_ + checkpoint_cost_us_); }
  TimestampTz last_measure_ = 0;
  EngineStats stats_;
  Graph graph_;
  // Checkpoint ids: operator k (0, 1, … in the order build() adds them: the sink, then each
  // plan node before its inputs, depth first) is node k; source k is node -1 - k.
  std::vector<Operator*> operators_;
  std::vector<StateMove> moves_;  // by operator (see StateMove)
  // Rescaling: the old checkpoint's number of workers until the first checkpoint has
  // rewritten this worker's moved state (0: not rescaling).
  int rescaled_from_ = 0;
  std::vector<SourceRun> sources_;
  std::unordered_map<PlanNode*, int> built_;  // plan node -> graph node producing its rows
  Sink* sink_ = nullptr;                      // the connector sink, if the target is not a table
  std::string fingerprint_;
  EngineStats checkpointed_;  // the counters at the last checkpoint
  // Rows this worker's exchanges sent to other workers (in all, and at the last checkpoint):
  // an operator's state can change by emitting rows that leave the worker (a flush), with
  // none of its own counters moving.
  int64 rows_sent() const;
  int64 checkpointed_rows_sent_ = 0;
  int sink_node_ = -1;

  // Several workers: this worker's index and their number, its links, and its exchanges (by
  // id, the order build() added them), their barrier order (upstream first) and progress.
  int subtask_ = 0, parallelism_ = 1;
  WorkerLinks* links_ = nullptr;
  struct ExchangeRun {
    ExchangeOperator* op;
    TupleDesc desc;
    int merge;                // its merge node
    std::vector<int> remote;  // by worker: the node other workers' rows enter by (-1: this one)
    std::vector<int64> barrier_seen;  // by worker: the last epoch whose barrier it sent here
    std::unique_ptr<Batch> batch;
    // The first phase of a two-phase window aggregate feeding it (and its node), drained
    // before the exchange's barrier goes out.
    WindowPartialOperator* partial = nullptr;
    int partial_node = -1;
  };
  std::vector<ExchangeRun> exchanges_;
  std::vector<int> barrier_order_;
  bool in_barrier_ = false, barrier_sent_ = false, flush_stages_ = false;
  int64 barrier_seq_ = 0;
  size_t barrier_stage_ = 0;
};

}  // namespace arroyo
