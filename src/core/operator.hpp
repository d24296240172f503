// The operator interface. An operator is one node of the dataflow graph: it receives rows on
// its inputs (ports 0, 1, …) and emits into one output. The runtime (src/runtime/graph) owns
// the edges: it delivers what an operator emits to every consumer of its output, combines the
// watermarks of a node's inputs, and tells it when all of them are idle or have ended. An
// operator does not know how it is wired, how many consumers it has, nor how many instances of
// it run. Batches, then watermarks and the end, arrive in the same order on every edge.
#pragma once

#include "core/batch.hpp"
#include "core/key_groups.hpp"
#include "core/node_stats.hpp"

#include <string>
#include <vector>

namespace arroyo {

class StateWriter;
struct StateEntry;

// Counters the engine reports in stream_pipelines.
struct EngineStats {
  int64 rows_in = 0, rows_out = 0, bad_rows = 0, late_rows = 0;
  int64 bad_rows_engine = 0;  // dropped by the engine (e.g. no event time); in bad_rows
  int64 state_bytes = 0;      // memory held by stateful operators (windows, aggregates)
  // Several workers: frames (rows, watermarks, ends) received from the other workers, which
  // change this worker's state without counting in rows_in.
  int64 frames_in = 0;
  TimestampTz watermark = DT_NOBEGIN;
  std::string source_status;  // the sources' Source::status(), joined; empty if none report
  // Per plan node (stream_operators), by node number.
  std::vector<NodeStats> nodes;
};

// Where a node's output goes; the runtime gives each node one (see Operator::set_output).
class Output {
 public:
  virtual ~Output() = default;
  // Hands rows to every consumer, one after the other, before returning. The batch stays the
  // producer's, which may clear and reuse it once push() returns. Past a fan-out (an output
  // with several consumers) the batch is read-only: a consumer that changes rows in place
  // says so (Operator::modifies_input) and is handed its own copy.
  virtual void push(Batch& rows) = 0;
  // No more rows with event time <= wm will be pushed.
  virtual void watermark(TimestampTz wm) = 0;
  // The output has had no rows for a while: its watermark stops holding consumers back until
  // it pushes rows again.
  virtual void idle() = 0;
  // Nothing more will be pushed.
  virtual void end() = 0;
};

class Operator {
 public:
  virtual ~Operator() = default;

  // Set by the runtime before anything flows.
  void set_output(Output* out) { out_ = out; }

  // Called inside each transaction before data flows, and before it commits; on every node
  // once, upstream first.
  virtual void begin_transaction() {}
  virtual void end_transaction() {}

  // Rows arriving on input `port` (0 for a node with one input).
  virtual void push(int port, Batch& rows) = 0;
  // Whether push() changes the rows it receives in place (then, past a fan-out, the runtime
  // hands it a copy no other consumer reads).
  virtual bool modifies_input() const { return false; }
  // The node's watermark advanced: the least over its inputs that are neither idle nor ended
  // (over idle ones, the largest, when every live input is idle). Never goes back.
  virtual void watermark(TimestampTz wm) { emit_watermark(wm); }
  // Input `port`'s own watermark advanced (DT_NOEND: it ended), before the node's combined
  // watermark is updated: for an operator that frees state by the progress of one input (an
  // interval join drops a row once the other side's watermark rules out a match).
  virtual void input_watermark(int /*port*/, TimestampTz /*wm*/) {}
  // Every input that has not ended is idle (until one of them pushes rows again). By default
  // the output goes idle too.
  virtual void idle() { emit_idle(); }
  // Every input has ended.
  virtual void end() { emit_end(); }
  // Time to emit buffered changes (updating aggregates flush every flush interval). The
  // runtime calls it on every node that has not ended, once, upstream first.
  virtual void flush() {}
  // Bytes of memory this operator's state holds.
  virtual int64 state_bytes() const { return 0; }
  // A one-line live status (a lookup's connection), for stream_pipelines.source_status.
  virtual std::string status() const { return {}; }
  // Keys (groups) this operator keeps state for, for stream_operators; -1: it keeps none.
  virtual int64 state_keys() const { return -1; }
  // Checkpoints (src/state/): writes what changed in this operator's state since the last
  // checkpoint, in entries only this operator reads back. Entries are keyed (part, key) within
  // the node, so that state keyed by a group can later be split between instances by key hash.
  virtual void checkpoint(StateWriter&) {}
  // Takes back one entry its checkpoint() wrote, before any data flows.
  virtual void restore(const StateEntry&) {}
  // Every entry has been restored.
  virtual void restored() {}
  // Rescaling: the checkpoint being restored was taken by `old_parallelism` workers, and this
  // worker is one of another number. Called before restore(), which then receives this node's
  // entries of every old worker (StateEntry::worker says whose): the operator keeps the groups
  // whose key hash `keep` keeps, merges its own entries (the least watermark of them), and its
  // next checkpoint() writes its whole state (the runtime deletes the old entries in the same
  // transaction). Called only on keyed operators with keys, the watermarks of sources that
  // split and the sinks that split; by default it refuses.
  virtual void rescale(int old_parallelism, const KeyGroupFilter& keep);

 protected:
  void emit(Batch& rows) {
    if (out_ && !rows.empty()) out_->push(rows);
  }
  void emit_watermark(TimestampTz wm) {
    if (out_) out_->watermark(wm);
  }
  void emit_end() {
    if (out_) out_->end();
  }
  void emit_idle() {
    if (out_) out_->idle();
  }

 private:
  Output* out_ = nullptr;
};

// The event time of the row being evaluated, for row_time().
extern TimestampTz current_row_time;
extern bool current_row_time_valid;

}  // namespace arroyo
