// The connector interface: every source or sink system (impulse, single_file, kafka, ...) is
// one folder under src/connectors/ implementing Connector, registered in
// src/connectors/registry.cpp.
// A connector knows nothing about SQL: it sees option maps, column lists and row batches.
#pragma once

#include "core/batch.hpp"
#include "core/table_spec.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arroyo {

class StateWriter;
struct StateEntry;

// What a poll produced.
struct PollResult {
  enum Kind { Data, Idle, Ended } kind;
  // For Idle: when the source expects to have data again (0 = when its latch is set).
  TimestampTz wake_at = 0;

  static PollResult data() { return {Data, 0}; }
  static PollResult idle(TimestampTz wake_at = 0) { return {Idle, wake_at}; }
  static PollResult ended() { return {Ended, 0}; }
};

// Runtime facts a source or sink may use.
struct RuntimeInfo {
  TimestampTz pipeline_start;  // when this run of the pipeline started
  std::string pipeline_name;
  int subtask_index = 0;  // this worker's index among its pipeline's workers
  int parallelism = 1;
  Oid dboid = InvalidOid;  // the pipeline's database and id (names of its resources)
  int32 pipeline_id = 0;
  // A preview (stream_preview) runs the query with no side effects on its sources: no offsets
  // committed, no replication slot kept.
  bool preview = false;
  // Publishes a status line in stream_pipelines.source_status at once, for a sink that waits
  // inside commit() (reconnecting); empty when the runtime offers none.
  std::function<void(const std::string&)> report_status;
};

// A running source. poll() appends rows (in the table's full row layout) to `out`, allocating
// any by-reference values in CurrentMemoryContext, which the engine resets once the batch has
// gone through the pipeline. A source runs in the pipeline's worker, owning its own resources.
class Source {
 public:
  virtual ~Source() = default;
  virtual void open(const RuntimeInfo&) {}
  virtual PollResult poll(Batch& out) = 0;
  // Rows that were malformed and dropped under bad_data 'drop'.
  virtual int64 bad_rows() const { return 0; }
  // A source read in splits (Kafka partitions) tags its rows with their split (Batch::
  // set_split) and lists here the splits that may still produce rows: each holds the
  // watermark back until it has rows (or goes idle), as in Flink. nullptr: one split.
  virtual const std::vector<int32>* active_splits() const { return nullptr; }
  // False while this worker's share of the source is empty (a Kafka worker of a parallel
  // pipeline without a partition): when it polls idle, its watermark stops holding the others
  // back at once instead of after idle_timeout.
  virtual bool has_share() const { return true; }
  // Memory the source keeps as state (counted in stream_pipelines.state_bytes).
  virtual int64 state_bytes() const { return 0; }
  // A one-line live status for stream_pipelines.source_status (e.g. a connection's state and
  // last error); empty when the source has nothing to report.
  virtual std::string status() const { return {}; }
  virtual void close() {}

  // A source that starts with a consistent snapshot (change data capture): the engine opens a
  // fresh REPEATABLE READ transaction, calls begin_snapshot() before anything else in it,
  // polls until snapshot_done(), commits, then calls snapshot_committed().
  virtual bool wants_snapshot() const { return false; }
  virtual void begin_snapshot() {}
  virtual bool snapshot_done() const { return true; }
  virtual void snapshot_committed() {}
  // Called once the pipeline's transaction has committed everything polled so far.
  virtual void committed() {}
  // Called between the pipeline's transactions (outside any), to fetch data whose reading
  // must not happen inside one (logical decoding).
  virtual void prefetch() {}

  // Checkpoints: writes the source's position (what it has produced so far) into the
  // checkpoint being taken, in the transaction that commits the results of those rows.
  // A source that writes nothing starts afresh after a restart.
  virtual void checkpoint(StateWriter&) {}
  // Takes back an entry its checkpoint() wrote, after open() and before the first poll; the
  // source then continues right after the position it recorded.
  virtual void restore(const StateEntry&) {}
  // Rescaling (a source that splits, resumed from a checkpoint its pipeline took with
  // `old_parallelism` workers, now RuntimeInfo::parallelism): called after open() and before
  // restore(), which then receives the entries of every old worker (StateEntry::worker says
  // whose). The source continues after what all of them recorded, in its new share, and its
  // next checkpoint() writes its whole position (the runtime deletes the old entries in the
  // same transaction). A source that does not split never gets this call: old worker 0's
  // entries go to worker 0 as usual.
  virtual void rescale(int old_parallelism);
};

// A running sink. write() receives rows in the table's full row layout; commit() is called
// when the engine commits the pipeline's transaction (a durability point).
class Sink {
 public:
  virtual ~Sink() = default;
  // For updating results: which columns (0-based) hold the grouping keys, so a delete and an
  // insert of the same key can be written as one update. Called before open().
  virtual void set_key_columns(const std::vector<int>&) {}
  virtual void open(const RuntimeInfo&) {}
  virtual void write(const Batch& rows) = 0;
  // Called before the pipeline's transaction (and checkpoint) commits.
  virtual void commit() {}
  // Checkpoints: writes what the sink must remember with the results it was given (an
  // exactly-once sink's pending output, say), in the checkpoint's transaction.
  virtual void checkpoint(StateWriter&) {}
  // Takes back an entry its checkpoint() wrote, after open() and before the first write.
  virtual void restore(const StateEntry&) {}
  // Rescaling (a sink that splits, resumed from a checkpoint taken with `old_parallelism`
  // workers): called after open() and before restore(), which then receives the entries of
  // the old workers w with w % parallelism == subtask_index (StateEntry::worker says whose);
  // the sink finishes or takes over what they left, and its next checkpoint() writes all of
  // its state (the runtime deletes the old entries in the same transaction). A sink that does
  // not split (gathered into worker 0) never gets this call.
  virtual void rescale(int old_parallelism);
  // Called after the pipeline's transaction, with its checkpoint, has committed.
  virtual void committed() {}
  // A one-line live status, shown in stream_pipelines.source_status with the sources'.
  virtual std::string status() const { return {}; }
  virtual void close() {}
};

// A table read by key when a lookup join processes a batch (a Redis lookup table): the
// connector side of `JOIN LATERAL (SELECT … FROM t WHERE t.key = stream.col)`.
class LookupTable {
 public:
  virtual ~LookupTable() = default;
  // Looks up `keys` (the key column's text) in one round trip. For each key found, appends its
  // row (the table's full row layout; by-reference values palloc'd in CurrentMemoryContext) to
  // `out`, sized for every key, and sets row_of_key[i] to the row's index; -1 when not found.
  virtual void lookup(const std::vector<std::string>& keys, Batch& out,
                      std::vector<int>& row_of_key) = 0;
  // A one-line live status, shown in stream_pipelines.source_status.
  virtual std::string status() const { return {}; }
};

class Connector {
 public:
  virtual ~Connector() = default;
  virtual const char* name() const = 0;

  // Server options (besides "connector"), checked at CREATE/ALTER SERVER.
  virtual std::vector<OptionSpec> server_options() const { return {}; }
  // Checks a server's options (besides "connector"); by default against server_options().
  virtual void validate_server_options(const Options& options) const {
    validate_options(options, server_options(),
                     std::string("connector \"") + name() + "\" servers");
  }
  // User mapping options (credentials), checked at CREATE/ALTER USER MAPPING.
  virtual std::vector<OptionSpec> user_mapping_options() const { return {}; }
  // Checks a foreign table's options and columns at CREATE/ALTER FOREIGN TABLE time.
  virtual void validate_table(const TableSpec& spec) const = 0;
  // Whether a sink table can take updating results (deletes as well as inserts).
  virtual bool accepts_updates(const TableSpec&) const { return false; }
  // Whether a source table's rows are updating (e.g. Debezium change events).
  virtual bool produces_updates(const TableSpec&) const { return false; }
  // A source column (0-based) that always holds the event time the connector gives each row
  // (nexmark's date_time), or -1: the planner may then bound joins by it.
  virtual int event_time_column(const TableSpec&) const { return -1; }
  // Whether the connector fills a source column for every row (it is never NULL).
  virtual bool never_null(const TableSpec&, const std::string& /*column*/) const { return false; }
  // Whether the table reads (source) or writes (sink); validate_table has accepted it.
  virtual TableRole role(const TableSpec& spec) const = 0;
  // Checks that the current user may use the table this way (e.g. server file access).
  virtual void check_privileges(const TableSpec&, TableRole) const {}

  // Parallel pipelines (SET parallelism = N): every worker builds the whole dataflow, with
  // RuntimeInfo::subtask_index and parallelism filled in.
  // Whether the source reads its own share in every worker (Kafka partitions p with
  // p % N == subtask, generators' numbers i with i % N == subtask; src/core/subtask_share.hpp),
  // the union over the workers being what parallelism 1 reads. False: only worker 0 makes
  // the source, and its rows are distributed downstream.
  virtual bool splits_source(const TableSpec&) const { return false; }
  // Whether every worker may write its share of the rows through a sink of its own (without
  // colliding with the other workers' output or their checkpoints). False: the runtime gathers
  // the rows into worker 0, whose sink alone writes.
  virtual bool splits_sink(const TableSpec&) const { return false; }

  // The table or server options a source's checkpointed position refers to (a topic, a file):
  // after a change, the position would point into something else, so ALTER refuses to change
  // them while a pipeline reading the table has a checkpoint.
  virtual std::vector<std::string> checkpointed_options() const { return {}; }

  // Releases what the connector keeps for a pipeline outside its checkpoint (e.g. a
  // replication slot), when the pipeline is dropped.
  virtual void drop_pipeline_resources(Oid /*dboid*/, int32 /*pipeline_id*/) const {}

  virtual std::unique_ptr<Source> make_source(const TableSpec& spec) const;
  virtual std::unique_ptr<Sink> make_sink(const TableSpec& spec) const;
  // Lookup tables (role Lookup): the column (0-based) a lookup join's subquery must compare
  // with the stream (`WHERE t.key = o.k`), and the table's reader.
  virtual int lookup_key_column(const TableSpec&) const { return -1; }
  virtual std::unique_ptr<LookupTable> make_lookup(const TableSpec& spec) const;
};

// The registry (src/connectors/registry.cpp): the one place connectors are listed.
const Connector* find_connector(const std::string& name);
std::vector<std::string> connector_names();
// The connector that reads a regular table in a pipeline's FROM (change data capture).
const Connector& regular_table_connector();
// Releases what every connector keeps for a pipeline outside its checkpoint (a replication
// slot), when the pipeline is dropped.
void drop_pipeline_resources(Oid dboid, int32 pipeline_id);

// The connector of a spec's server.
const Connector& connector_of(Oid relid);

}  // namespace arroyo
