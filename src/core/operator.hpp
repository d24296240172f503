// The operator interface. Data flows one way, pushed from sources to the sink: batches, then
// watermarks and the end of each input, in the same order on every edge. An operator with
// several inputs tells them apart by port.
#pragma once

#include "core/batch.hpp"

#include <string>

namespace arroyo {

class StateWriter;
struct StateEntry;

// Counters the engine reports in stream_pipelines.
struct EngineStats {
  int64 rows_in = 0, rows_out = 0, bad_rows = 0, late_rows = 0;
  int64 bad_rows_engine = 0;  // dropped by the engine (e.g. no event time); in bad_rows
  int64 state_bytes = 0;      // memory held by stateful operators (windows, aggregates)
  TimestampTz watermark = DT_NOBEGIN;
  std::string source_status;  // the sources' Source::status(), joined; empty if none report
};

class Operator {
 public:
  virtual ~Operator() = default;

  void connect(Operator* next, int port) {
    next_ = next;
    next_port_ = port;
  }
  // Called inside each transaction before data flows, and before it commits.
  virtual void begin_transaction() {}
  virtual void end_transaction() {}

  virtual void push(int port, Batch& rows) = 0;
  // The input on `port` promises no more rows with event time <= watermark.
  virtual void watermark(int port, TimestampTz wm) { emit_watermark(wm); }
  // The input on `port` has ended.
  virtual void end(int port) { emit_end(); }
  // Time to emit buffered changes (updating aggregates flush every flush interval).
  virtual void flush() {
    if (next_) next_->flush();
  }
  // Bytes of memory this operator's state holds.
  virtual int64 state_bytes() const { return 0; }
  // Checkpoints (src/state/): writes what changed in this operator's state since the last
  // checkpoint, in entries only this operator reads back.
  virtual void checkpoint(StateWriter&) {}
  // Takes back one entry its checkpoint() wrote, before any data flows.
  virtual void restore(const StateEntry&) {}
  // Every entry has been restored.
  virtual void restored() {}
  // The input on `port` has had no data for its idle timeout: stop waiting for its watermark
  // (until it sends data again).
  virtual void idle(int port) { emit_idle(); }

 protected:
  void emit(Batch& rows) {
    if (next_ && !rows.empty()) next_->push(next_port_, rows);
  }
  void emit_watermark(TimestampTz wm) {
    if (next_) next_->watermark(next_port_, wm);
  }
  void emit_end() {
    if (next_) next_->end(next_port_);
  }
  void emit_idle() {
    if (next_) next_->idle(next_port_);
  }
  void emit_flush() {
    if (next_) next_->flush();
  }

  Operator* next_ = nullptr;
  int next_port_ = 0;
};

// The event time of the row being evaluated, for row_time().
extern TimestampTz current_row_time;
extern bool current_row_time_valid;

}  // namespace arroyo
