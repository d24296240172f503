// A pipeline's background worker: connects as the pipeline's owner, plans the query, and runs
// the dataflow in transactions of at most checkpoint_interval, until the sources end, a stop
// is requested, or an error fails the pipeline.
#include "catalog/operator_stats.hpp"
#include "catalog/pipeline_objects.hpp"
#include "catalog/pipelines.hpp"
#include "connectors/cdc/cdc.hpp"
#include "runtime/dataflow.hpp"
#include "pg/guard.hpp"
#include "pg/wait.hpp"
#include "planner/planner.hpp"
#include "planner/settings.hpp"
#include "state/checkpoint_store.hpp"
#include "runtime/recovery.hpp"
#include "worker/group_run.hpp"
#include "worker/launch.hpp"
#include "worker/transactions.hpp"
#include "worker/slots.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/ps_status.h"
}

namespace arroyo {

namespace {

int my_slot = -1;
constexpr int64 kMinIdleEpochUs = 10 * 1000;
// A worker that dies this many times in a row before making progress (a checkpoint, or
// kProgressUs of running) is not started again: a pipeline that crashes its worker, or the
// server, at every start must not do so forever.
constexpr int kMaxUnprogressedStarts = 5;
constexpr int64 kProgressUs = 60 * USECS_PER_SEC;
volatile sig_atomic_t got_sigterm = false;
// Several workers: the group and its followers, which stop when this worker exits.
WorkerGroup* my_group = nullptr;
std::vector<BackgroundWorkerHandle*>* my_followers = nullptr;

// SIGTERM: remember that we were told to exit (die() clears ProcDiePending before exit
// callbacks run), then let PostgreSQL's handler do the rest.
void handle_sigterm(SIGNAL_ARGS) {
  got_sigterm = true;
  die(postgres_signal_arg);
}

bool stop_requested() { return slots::stop_requested(my_slot); }

void publish(const EngineStats& stats) { slots::publish(my_slot, stats); }

void set_slot_state(SlotState state, const std::string& error = {}) {
  slots::set_state(my_slot, state, error);
}

// Marks the slot of a worker that exits without having recorded its end (before_shmem_exit).
void on_worker_exit(int, Datum) {
  if (my_group) {
    my_group->fail("the pipeline's leader worker exited");
    for (BackgroundWorkerHandle* h : *my_followers) TerminateBackgroundWorker(h);
  }
  if (my_slot < 0) return;
  slots::mark_died(my_slot, got_sigterm ? "pipeline worker was terminated"
                                        : "pipeline worker exited unexpectedly");
}

// Sleeps until the latch is set or `wake_at` (0: at most a second) passes.
void wait_for_data(TimestampTz wake_at) {
  long timeout_ms = 1000;
  if (wake_at) {
    TimestampTz now = GetCurrentTimestamp();
    timeout_ms = wake_at > now ? long((wake_at - now + 999) / 1000) : 0;
    timeout_ms = std::min(timeout_ms, 1000L);
  }
  pg::wait_latch(timeout_ms);
}

// Records how the run ended, in the catalog and then in the slot.
void record_end(int32 id, SlotState state, const EngineStats& stats, const std::string& error) {
  const char* name = state == SlotState::Finished  ? "finished"
                     : state == SlotState::Stopped ? "stopped"
                                                   : "failed";
  begin_transaction();
  catalog_mark_ended(
      id, name, {stats.rows_in, stats.rows_out, stats.bad_rows, stats.late_rows, stats.state_bytes},
      error);
  catalog_save_node_stats(id, stats.nodes);
  commit_transaction();
  publish(stats);
  set_slot_state(state, error);
}

// Whether a pipeline that reads table changes must rebuild its results instead of resuming:
// it has a checkpoint, but the replication slot that checkpoint's position is in does not
// exist. That is a restored database (pg_dump carries the checkpoint, which is a position in
// another database's, or cluster's, changes), a copy, or a slot someone dropped: the changes
// between that position and now cannot be read again.
bool needs_rebuild(CheckpointStore& store, const PipelineWorkerArgs& args,
                   const std::string& name) {
  if (store.last().epoch == 0) return false;
  std::string slot = cdc_slot_name(args.dboid, args.pipeline_id);
  if (cdc_slot_exists(slot)) return false;
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream pipeline \"%s\": its replication slot \"%s\" does not "
                         "exist (a restored or copied database?); rebuilding its results from "
                         "the tables' current rows",
                         name.c_str(), slot.c_str())));
  });
  return true;
}

// For a rebuild: drops the old checkpoint and empties a table target, in the snapshot's
// transaction, so the target goes from the old results to the rebuilt ones in one commit.
void discard_old_results(const SinkTarget& sink, int32 pipeline_id) {
  CheckpointStore::remove_all(pipeline_id);
  if (!sink.is_table) return;  // a Kafka or file sink gets the snapshot's rows again
  std::string sql = "DELETE FROM " + sink.name;
  pg::call([&] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    if (SPI_execute(sql.c_str(), false, 0) != SPI_OK_DELETE)
      elog(ERROR, "arroyo_stream: could not empty %s", sql.c_str() + strlen("DELETE FROM "));
    SPI_finish();
  });
}

// Reads the snapshot of change-data-capture sources in one REPEATABLE READ transaction whose
// snapshot is the one their replication slot starts after. `rebuild`: the target of a
// rebuild, whose old results go in the same transaction.
void read_snapshot(Dataflow& flow, CheckpointStore& store, const SinkTarget* rebuild,
                   int32 pipeline_id) {
  pg::call([&] {
    StartTransactionCommand();
    XactIsoLevel = XACT_REPEATABLE_READ;
  });
  flow.begin_snapshot();
  pg::call([&] { PushActiveSnapshot(GetTransactionSnapshot()); });
  if (rebuild) discard_old_results(*rebuild, pipeline_id);
  flow.begin_transaction();
  while (!flow.snapshot_done()) {
    pg::call([&] { CHECK_FOR_INTERRUPTS(); });
    flow.run_round();
    publish(flow.stats());
  }
  flow.end_transaction();
  checkpoint(flow, store);
  commit_transaction();
  flow.snapshot_committed();
  flow.committed();
}

// Runs the dataflow until it finishes or is stopped; returns the end state.
SlotState run(Dataflow& flow, CheckpointStore& store, int64 commit_interval_us,
              bool decodes_between_transactions, int32 pipeline_id, const SinkTarget* rebuild) {
  TimestampTz started = GetCurrentTimestamp();
  bool progress_recorded = false;
  if (flow.wants_snapshot()) read_snapshot(flow, store, rebuild, pipeline_id);
  while (true) {
    if (stop_requested()) {
      // Emit what updating aggregates buffered, and commit it, before stopping.
      begin_transaction();
      flow.begin_transaction();
      flow.flush();
      flow.end_transaction();
      checkpoint(flow, store);
      commit_transaction();
      flow.committed();
      return SlotState::Stopped;
    }
    flow.prefetch();
    begin_transaction();
    flow.begin_transaction();
    TimestampTz epoch_start = GetCurrentTimestamp();
    RoundResult r;
    while (true) {
      pg::call([&] { CHECK_FOR_INTERRUPTS(); });
      r = flow.run_round();
      publish(flow.stats());
      if (r.all_ended || stop_requested()) break;
      TimestampTz now = GetCurrentTimestamp();
      // An epoch lasts at least kSlowFactor times as long as the last flush and checkpoint
      // took (Dataflow::epoch_interval), so that they never take all the time.
      if (now - epoch_start >= flow.epoch_interval(commit_interval_us)) break;
      if (!r.idle) continue;
      // Nothing new: commit, but not before the epoch has lasted kMinIdleEpochUs, so that a
      // trickling source commits (and checkpoints) every 10 ms instead of after every few
      // rows. Change data capture decodes only between transactions: it commits at once.
      TimestampTz min_end = epoch_start + std::min(kMinIdleEpochUs, commit_interval_us);
      if (now >= min_end || decodes_between_transactions) break;
      wait_for_data(r.wake_at && r.wake_at < min_end ? r.wake_at : min_end);
    }
    flow.end_transaction();
    checkpoint(flow, store);
    if (!progress_recorded && GetCurrentTimestamp() - started >= kProgressUs) {
      catalog_clear_starts(pipeline_id);  // running for a minute is progress too
      progress_recorded = true;
    }
    commit_transaction();
    flow.committed();
    if (r.all_ended) return SlotState::Finished;
    if (r.idle) {
      TimestampTz wake = r.wake_at, flush_at = flow.next_flush();
      if (flush_at && (!wake || flush_at < wake)) wake = flush_at;
      wait_for_data(wake);
    }
  }
}

// Whether arroyo_stream is no longer installed in this database (dropped while we ran).
bool extension_dropped() {
  try {
    return pg::call([&] {
      AbortOutOfAnyTransaction();
      StartTransactionCommand();
      bool gone = !OidIsValid(get_extension_oid("arroyo_stream", true));
      CommitTransactionCommand();
      return gone;
    });
  } catch (const std::exception&) {
    return false;
  }
}

void run_pipeline(const PipelineWorkerArgs& args) {
  begin_transaction();
  if (TransactionIdIsValid(args.launcher_xid))
    pg::call([&] { XactLockTableWait(args.launcher_xid, nullptr, nullptr, XLTW_None); });
  std::optional<PipelineRow> row = catalog_get(args.pipeline_id);
  if (!row || row->state != "running") {
    commit_transaction();
    set_slot_state(SlotState::Stopped);
    return;
  }
  // Counted (and committed) before anything that might crash.
  int starts = catalog_count_start(args.pipeline_id);
  commit_transaction();
  // Prepared transactions an earlier run of several workers left behind (a crash in an
  // epoch's two-phase commit) are committed or rolled back before anything else.
  resolve_prepared(args.dboid, args.pipeline_id);
  if (starts > kMaxUnprogressedStarts) {
    record_end(args.pipeline_id, SlotState::Failed, {},
               "pipeline worker died " + std::to_string(kMaxUnprogressedStarts) +
                   " times in a row before making progress; not restarted automatically "
                   "(each start counts until the pipeline commits a checkpoint or has run for a "
                   "minute; the server log shows how the workers ended. Fix the cause, then "
                   "stream_start resumes from the last checkpoint)");
    return;
  }
  begin_transaction();
  pg::call([&] {
    pgstat_report_appname(psprintf("arroyo_stream: %s", row->name.c_str()));
    set_ps_display(row->name.c_str());
    // A checkpoint must be durable once it has committed: Kafka transactions and the CDC
    // slot's confirmed position move on after it. The owner's or database's settings may have
    // turned synchronous_commit off; the worker's transactions keep it at least local.
    if (synchronous_commit == SYNCHRONOUS_COMMIT_OFF)
      SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);
  });
  EngineStats last_stats;
  std::string narrowed_keys;  // see SinkTarget::narrowed_keys
  std::unique_ptr<Dataflow> flow;
  std::unique_ptr<CheckpointStore> store;
  std::unique_ptr<WorkerGroup> group;
  std::vector<BackgroundWorkerHandle*> followers;
  try {
    MemoryContext pipeline_memory = pg::call([&] {
      return AllocSetContextCreate(TopMemoryContext, "arroyo_stream pipeline",
                                   ALLOCSET_DEFAULT_SIZES);
    });
    MemoryContext round_memory = pg::call([&] {
      return AllocSetContextCreate(pipeline_memory, "arroyo_stream round", ALLOCSET_DEFAULT_SIZES);
    });
    MemoryContext old = MemoryContextSwitchTo(pipeline_memory);
    // The query as its view and rule read now: renames of what it uses are followed.
    std::string query = pipeline_query_now(*row).value_or(row->query);
    LogicalPlan plan = plan_pipeline(query, row->search_path.c_str());
    narrowed_keys = plan.sink.narrowed_keys;
    RuntimeInfo info{GetCurrentTimestamp(), row->name, 0, 1, args.dboid, args.pipeline_id};
    info.report_status = [](const std::string& status) { slots::publish_status(my_slot, status); };
    if (plan.settings.parallelism > 1) {
      check_parallelism(plan);  // max_prepared_transactions may have changed since the create
      group = WorkerGroup::create(plan.settings.parallelism, args.pipeline_id,
                                  uint64(GetCurrentTimestamp()));
      my_group = group.get();
      my_followers = &followers;
      info.parallelism = plan.settings.parallelism;
      followers = launch_followers(*group, args.dboid, args.owner, args.pipeline_id, row->name);
      group->attach_queues(followers);
    }
    flow = std::make_unique<Dataflow>(plan, round_memory, info, pipeline_ttl_us(plan.settings),
                                      pipeline_flush_us(plan.settings), nullptr, group.get());
    store = std::make_unique<CheckpointStore>(args.pipeline_id);
    bool rebuild = plan.reads_table_changes && needs_rebuild(*store, args, row->name);
    if (!rebuild) resume(*flow, *store);
    MemoryContextSwitchTo(old);
    commit_transaction();
    if (group) group->wait_ready(fingerprint_hash(flow->fingerprint()), followers);
    set_slot_state(SlotState::Running);
    int64 interval = pipeline_checkpoint_us(plan.settings);
    SlotState end;
    if (group) {
      if (rebuild)
        pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
                 "pipeline \"" + row->name +
                     "\" must rebuild its results from the tables' "
                     "current rows (its replication slot is gone), which a pipeline of several "
                     "workers cannot do",
                 {}, "Drop the pipeline and create it again.");
      GroupHooks hooks{plan.reads_table_changes, stop_requested,
                       [&](const std::vector<EngineStats>& workers) {
                         publish(sum_stats(workers));
                         std::vector<pid_t> pids = group->pids();
                         std::vector<WorkerStatus> each;
                         for (size_t w = 0; w < workers.size(); w++) {
                           const EngineStats& s = workers[w];
                           int64 busy = 0;
                           for (const NodeStats& n : s.nodes) busy += n.busy_us;
                           each.push_back({int32(w), pids[w], s.rows_in, s.rows_out, s.state_bytes,
                                           busy, s.watermark});
                         }
                         slots::publish_workers(my_slot, each);
                       }};
      end = run_in_group(*flow, *store, *group, interval, hooks, followers);
    } else {
      end = run(*flow, *store, interval, plan.reads_table_changes, args.pipeline_id,
                rebuild ? &plan.sink : nullptr);
    }
    flow->measure_state();
    flow->close();
    EngineStats final_stats = flow->stats();
    if (group) {
      group->publish(final_stats);
      group->wait_finished(followers);  // their last counters (they exit on their own)
      final_stats = sum_stats(group->stats());
      my_group = nullptr;
    }
    record_end(args.pipeline_id, end, final_stats, {});
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (auto* pe = dynamic_cast<const pg::Error*>(&e)) {
      message = pe->full_message();
      if (pe->sqlerrcode() == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE && !narrowed_keys.empty())
        message += " (" + narrowed_keys +
                   ": a key outside the column's range cannot be written; give the column the "
                   "key's type)";
    }
    if (flow) {
      flow->collect_node_stats();  // the failed round's counts, up to where it failed
      last_stats = flow->stats();
    }
    pg::call([&] { AbortOutOfAnyTransaction(); });
    if (group) {
      // Every follower stops; the epoch they prepared, if any, is rolled back (or committed,
      // when the leader had committed its part) before the pipeline ends.
      last_stats = sum_stats(group->stats());
      stop_followers(group.get(), followers);
      my_group = nullptr;
      resolve_prepared(args.dboid, args.pipeline_id);
      auto* failed = dynamic_cast<const GroupFailed*>(&e);
      if (failed && failed->died) {
        // Not the query's failure: the supervisor resumes the pipeline from its checkpoint.
        pg::call([&] {
          ereport(LOG, (errmsg("arroyo_stream pipeline \"%s\": %s; it resumes from its last "
                               "checkpoint",
                               row->name.c_str(), message.c_str())));
        });
        slots::mark_died(my_slot, message.c_str());
        my_slot = -1;
        proc_exit(1);
      }
    }
    // Dropped meanwhile (DROP … CASCADE of something it used): what failed is the rest of a
    // run that no longer has a pipeline, not the pipeline.
    bool dropped = false;
    try {
      begin_transaction();
      dropped = !catalog_get(args.pipeline_id);
      commit_transaction();
    } catch (const std::exception&) {
      pg::call([&] { AbortOutOfAnyTransaction(); });
    }
    pg::call([&] {
      if (dropped)
        ereport(LOG, (errmsg("arroyo_stream pipeline \"%s\" was dropped while it ran; its "
                             "worker stops (%s)",
                             row->name.c_str(), message.c_str())));
      else
        ereport(LOG, (errmsg("arroyo_stream pipeline \"%s\" failed: %s", row->name.c_str(),
                             message.c_str())));
    });
    // The sinks are not closed: what they buffered belongs to the failed transaction and is
    // dropped with them.
    flow.reset();
    record_end(args.pipeline_id, SlotState::Failed, last_stats, message);
  }
}

}  // namespace

}  // namespace arroyo

extern "C" {

PGDLLEXPORT void arroyo_stream_pipeline_main(Datum);

void arroyo_stream_pipeline_main(Datum) {
  arroyo::PipelineWorkerArgs args;
  memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
  pqsignal(SIGTERM, arroyo::handle_sigterm);
  BackgroundWorkerUnblockSignals();
  arroyo::my_slot = args.slot;
  before_shmem_exit(arroyo::on_worker_exit, 0);
  BackgroundWorkerInitializeConnectionByOid(args.dboid, args.owner, 0);
  arroyo::slots::attach_worker(arroyo::my_slot);
  try {
    arroyo::run_pipeline(args);
    // A pipeline dropped while it ran (DROP … CASCADE of something it uses) leaves its
    // replication slot to its worker, which held it until now.
    arroyo::begin_transaction();
    bool gone = !arroyo::catalog_get(args.pipeline_id);
    arroyo::commit_transaction();
    if (gone)
      arroyo::drop_cdc_slot_if_exists(arroyo::cdc_slot_name(args.dboid, args.pipeline_id), true);
  } catch (const std::exception& e) {
    if (arroyo::extension_dropped()) {
      // Nothing left to record into, or to resume: not a crash.
      elog(LOG, "arroyo_stream pipeline worker exiting: the extension was dropped");
      arroyo::slots::release(arroyo::my_slot);
      arroyo::my_slot = -1;
      proc_exit(0);
    }
    // Recording the failure failed too: the exit callback marks the slot for the supervisor.
    elog(LOG, "arroyo_stream pipeline worker could not record its end: %s", e.what());
    proc_exit(1);
  }
  arroyo::slots::release(arroyo::my_slot);
  arroyo::my_slot = -1;
  proc_exit(0);
}

}  // extern "C"
