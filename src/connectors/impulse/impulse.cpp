// impulse: a generator source emitting counter = 0, 1, 2, ... at a given rate, like Arroyo's.
// In a parallel pipeline worker s of N emits the counters c with c % N == s (below
// message_count), each when parallelism 1 would (so each worker runs at event_rate / N), with
// subtask_index = s: the union over the workers is parallelism 1's counters. Rescaled (a
// checkpoint of N workers resumed by N'), each new worker takes its share of the counters no
// old worker emitted (ShareCursor), the rate counting from the least of them.
#include "connectors/generator_position.hpp"
#include "core/connector.hpp"
#include "core/event_time.hpp"
#include "core/subtask_share.hpp"

#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <cmath>

namespace arroyo {

namespace {

class ImpulseSource : public Source {
 public:
  explicit ImpulseSource(const TableSpec& spec) {
    event_rate_ = option_int(spec.table_options, "event_rate", 0);
    message_count_ = option_int(spec.table_options, "message_count", -1);
    start_time_ = option_timestamptz(spec.table_options, "start_time");
    interval_us_ = option_interval_us(spec.table_options, "event_time_interval", 0);
    for (const auto& c : spec.columns) {
      if (c.name == "counter") counter_idx_ = c.attnum - 1;
      if (c.name == "subtask_index") subtask_idx_ = c.attnum - 1;
    }
  }

  void open(const RuntimeInfo& info) override {
    run_start_ = GetCurrentTimestamp();
    first_event_time_ = start_time_ ? *start_time_ : info.pipeline_start;
    subtask_ = info.subtask_index;
    share_ = SubtaskShare(info.subtask_index, info.parallelism);
    cursor_ = ShareCursor(share_);
    run_first_ = 0;
  }

  // Position: the counters emitted (this worker's share below its next counter, and after a
  // rescale the old workers' counters still ahead of it), and the event time of counter 0 (the
  // first run's start).
  void checkpoint(StateWriter& w) override {
    settle();
    if (cursor_.next() == checkpointed_) return;
    w.put(0, "", encode_generator_position(cursor_.position(), first_event_time_));
    checkpointed_ = cursor_.next();
  }

  // Resuming a checkpoint of `old_parallelism` workers: restore() gets every old worker's
  // position; the first checkpoint writes this worker's whole position.
  void rescale(int old_parallelism) override {
    rescaled_from_ = old_parallelism;
    checkpointed_ = -1;
    restored_ = true;
  }

  void restore(const StateEntry& entry) override {
    int64 time = 0;
    SharePosition p = decode_generator_position(
        entry, rescaled_from_ ? rescaled_from_ : share_.parallelism,
        rescaled_from_ ? entry.worker : share_.subtask, &time, "the impulse source's position");
    cursor_.add(p);
    first_event_time_ = time;
    restored_ = true;
  }

  PollResult poll(Batch& out) override {
    settle();
    if (message_count_ >= 0 && cursor_.next() >= message_count_) return PollResult::ended();
    int64 stop = message_count_ >= 0 ? message_count_ : PG_INT64_MAX;
    TimestampTz now = GetCurrentTimestamp();
    if (event_rate_ > 0) {
      // Counters due by now at event_rate per second since the run started (all workers'):
      // this worker's among them.
      int64 due = int64(double(now - run_start_) * double(event_rate_) / 1e6) + 1;
      stop = std::min(stop, run_first_ + due);
      if (cursor_.next() >= stop)
        return PollResult::idle(
            run_start_ + int64(double(cursor_.next() - run_first_) * 1e6 / double(event_rate_)));
    }
    while (!out.full() && cursor_.next() < stop) {
      int64 counter = cursor_.next();
      cursor_.advance();
      TimestampTz t = now;
      if (interval_us_ > 0 &&
          (__builtin_mul_overflow(counter, interval_us_, &t) ||
           __builtin_add_overflow(t, first_event_time_, &t) || !IS_VALID_TIMESTAMP(t)))
        pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
                 "impulse: the event time of counter " + std::to_string(counter) +
                     " is out of range (start_time + counter * event_time_interval)");
      int row = out.append(t);
      if (counter_idx_ >= 0) {
        out.values(row)[counter_idx_] = Int64GetDatum(counter);
        out.nulls(row)[counter_idx_] = false;
      }
      if (subtask_idx_ >= 0) {
        out.values(row)[subtask_idx_] = Int32GetDatum(subtask_);
        out.nulls(row)[subtask_idx_] = false;
      }
    }
    return PollResult::data();
  }

 private:
  // After the checkpoint's entries: where this worker continues. The rate applies from there,
  // as if this run's counters began at this worker's round (at the least counter nobody
  // emitted after a rescale).
  void settle() {
    if (!restored_) return;
    restored_ = false;
    cursor_.resume();
    run_first_ = rescaled_from_ ? cursor_.frontier() : cursor_.next() - share_.subtask;
    if (!rescaled_from_) checkpointed_ = cursor_.next();
  }

  int64 event_rate_, message_count_, interval_us_;
  std::optional<TimestampTz> start_time_;
  TimestampTz run_start_ = 0, first_event_time_ = 0;
  SubtaskShare share_;   // this worker's counters
  ShareCursor cursor_;   // this worker's next counter
  int64 run_first_ = 0;  // the counter due when the run started (the rate counts from it)
  int64 checkpointed_ = 0;
  int rescaled_from_ = 0;  // the checkpoint's parallelism, when it was another
  bool restored_ = false;  // entries were given: settle() before polling
  int counter_idx_ = -1, subtask_idx_ = -1, subtask_ = 0;
};

class ImpulseConnector : public Connector {
 public:
  const char* name() const override { return "impulse"; }
  // The checkpoint keeps the next counter and the event time of counter 0.
  std::vector<std::string> checkpointed_options() const override {
    return {"start_time", "event_time_interval"};
  }

  void validate_table(const TableSpec& spec) const override {
    std::vector<OptionSpec> specs = {{"event_rate", OptionKind::NonNegInt, true},
                                     {"message_count", OptionKind::NonNegInt},
                                     {"start_time", OptionKind::Timestamptz},
                                     {"event_time_interval", OptionKind::Interval}};
    for (auto& s : event_time_option_specs()) specs.push_back(s);
    validate_options(spec.table_options, specs, "connector \"impulse\" tables");
    if (spec.table_options.count("start_time") && !spec.table_options.count("event_time_interval"))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"start_time\" of impulse table " + spec.name +
                   " needs option \"event_time_interval\"",
               "Without event_time_interval a row's event time is the time it is generated, "
               "so start_time would be ignored.",
               "Add event_time_interval: counter n then has the event time start_time + n * "
               "event_time_interval.");
    for (const auto& c : spec.columns) {
      if (c.name == "counter" && c.type != INT8OID)
        pg::fail(ERRCODE_DATATYPE_MISMATCH, "impulse column \"counter\" must be of type bigint");
      else if (c.name == "subtask_index" && c.type != INT4OID)
        pg::fail(ERRCODE_DATATYPE_MISMATCH,
                 "impulse column \"subtask_index\" must be of type integer");
      else if (c.name != "counter" && c.name != "subtask_index" && !c.generated)
        pg::fail(ERRCODE_UNDEFINED_COLUMN, "impulse tables have no column \"" + c.name + "\"",
                 "An impulse table's columns are counter bigint and subtask_index int.");
      if (!c.options.empty())
        pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
                 "impulse column \"" + c.name + "\" accepts no options");
    }
  }

  TableRole role(const TableSpec&) const override { return TableRole::Source; }
  bool never_null(const TableSpec&, const std::string& column) const override {
    return column == "counter" || column == "subtask_index";
  }

  // Each worker of a parallel pipeline emits its share of the counters.
  bool splits_source(const TableSpec&) const override { return true; }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<ImpulseSource>(spec);
  }
};

}  // namespace

const Connector& impulse_connector() {
  static ImpulseConnector instance;
  return instance;
}

}  // namespace arroyo
