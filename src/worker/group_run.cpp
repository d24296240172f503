#include "worker/group_run.hpp"

#include "catalog/pipelines.hpp"
#include "pg/guard.hpp"
#include "pg/wait.hpp"
#include "state/codec.hpp"
#include "worker/transactions.hpp"

extern "C" {
#include "access/twophase.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "storage/lock.h"
}

namespace arroyo {

namespace {

// PREPAREs the current transaction as `gid` (PREPARE TRANSACTION, as a worker runs it).
void prepare_transaction(const std::string& gid) {
  pg::call([&] {
    PopActiveSnapshot();
    BeginTransactionBlock();
    CommitTransactionCommand();
    StartTransactionCommand();
    if (!PrepareTransactionBlock(gid.c_str()))
      elog(ERROR, "arroyo_stream: could not prepare transaction %s", gid.c_str());
    CommitTransactionCommand();
  });
}

// COMMIT PREPARED or ROLLBACK PREPARED `gid`, in a transaction of its own.
void finish_prepared(const std::string& gid, bool commit) {
  pg::call([&] {
    StartTransactionCommand();
    FinishPreparedTransaction(gid.c_str(), commit);
    CommitTransactionCommand();
  });
}

// The leader's record of the last epoch it committed: (run, epoch).
std::string group_record(uint64 run_id, uint64 seq) {
  return encode_ints({int64(run_id), int64(seq)});
}

// Waits, between rounds, for frames, a request of the leader, or `wake_at`.
void wait_a_little(TimestampTz wake_at, long cap_ms) {
  long ms = cap_ms;
  if (wake_at) {
    TimestampTz now = GetCurrentTimestamp();
    ms = std::min(ms, wake_at > now ? long((wake_at - now + 999) / 1000) : 0L);
  }
  pg::call([&] { pg::wait_latch(ms); });
}

// The advisory lock a follower holds while it lives, so that a later leader can wait for it.
void follower_lock_tag(LOCKTAG* tag, int32 pipeline_id, int subtask) {
  SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, uint32(pipeline_id), uint32(subtask), 0x4152);
}

// Where a worker's time went besides its rows, logged when the run ends (for benchmarks).
struct EpochCost {
  int64 epochs = 0;
  int64 barrier_us = 0;      // ending epochs: barriers through the exchanges
  int64 commit_us = 0;       // checkpoint entries, PREPARE and COMMIT PREPARED
  int64 entries_us = 0;      // of which writing the checkpoint entries
  int64 commit_wait_us = 0;  // waiting for the other workers' votes or the leader's decision
};

void log_cost(const WorkerGroup& group, const EpochCost& cost, int64 run_us) {
  pg::call([&] {
    ereport(LOG,
            (errmsg("arroyo_stream: worker %d of %d ran %.3f s: %lld epochs; barriers "
                    "%.3f s, checkpoints and commits %.3f s (writing entries %.3f s), "
                    "waiting for the other workers %.3f s; %lld frames (%lld bytes) sent to "
                    "them",
                    group.subtask(), group.size(), double(run_us) / 1e6, (long long)cost.epochs,
                    double(cost.barrier_us) / 1e6, double(cost.commit_us) / 1e6,
                    double(cost.entries_us) / 1e6, double(cost.commit_wait_us) / 1e6,
                    (long long)group.frames_sent(), (long long)group.bytes_sent())));
  });
}

}  // namespace

SlotState run_in_group(Dataflow& flow, CheckpointStore& store, WorkerGroup& group,
                       int64 commit_interval_us, const GroupHooks& hooks,
                       const std::vector<BackgroundWorkerHandle*>& followers) {
  bool leader = group.leader();
  TimestampTz run_start = GetCurrentTimestamp();
  EpochCost cost;
  TimestampTz published = 0;
  bool idle_after = false;  // the leader ended an epoch for lack of changes to decode
  TimestampTz idle_wake = 0;
  for (uint64 seq = 1;; seq++) {
    // A change-data-capture source first reads its snapshot, in the first epoch, in one
    // REPEATABLE READ transaction whose snapshot its replication slot starts after.
    bool snapshot = seq == 1 && flow.wants_snapshot();
    if (snapshot) {
      pg::call([&] {
        StartTransactionCommand();
        XactIsoLevel = XACT_REPEATABLE_READ;
      });
      flow.begin_snapshot();
      pg::call([&] { PushActiveSnapshot(GetTransactionSnapshot()); });
    } else {
      flow.prefetch();
      begin_transaction();
    }
    flow.begin_transaction();
    if (seq == 1) {
      // Every worker ends the sources it has no share of, and barrier 0 makes sure every
      // other worker has seen those ends before any source is read.
      flow.end_unshared_sources();
      flow.begin_barrier(0, false);
      while (!flow.barrier_round()) {
        pg::call([&] { CHECK_FOR_INTERRUPTS(); });
        group.check(followers);
        wait_a_little(0, 10);
      }
    }
    TimestampTz epoch_start = GetCurrentTimestamp();
    while (!group.end_requested(seq)) {
      pg::call([&] { CHECK_FOR_INTERRUPTS(); });
      group.check(followers);
      RoundResult r = flow.run_round();
      group.publish(flow.stats());
      group.set_done(r.all_ended);
      TimestampTz epoch_end = epoch_start + flow.epoch_interval(commit_interval_us);
      if (leader) {
        if (GetCurrentTimestamp() - published >= 50 * 1000) {
          hooks.publish(group.stats());
          published = GetCurrentTimestamp();
        }
        if (snapshot) {
          if (flow.snapshot_done()) group.request_end(seq, EpochEnd::Normal);
        } else if (hooks.stop_requested()) {
          group.request_end(seq, EpochEnd::Stop);
        } else if (group.all_done()) {
          group.request_end(seq, EpochEnd::Finish);
        } else if (GetCurrentTimestamp() >= epoch_end) {
          group.request_end(seq, EpochEnd::Normal);
        } else if (hooks.decodes_between_transactions && r.idle) {
          // Changes are decoded between transactions: commit now, and wait for more after.
          group.request_end(seq, EpochEnd::Normal);
          idle_after = true;
          idle_wake = r.wake_at;
        }
        if (group.end_requested(seq)) break;
      }
      if (r.idle || r.all_ended) {
        TimestampTz wake = r.wake_at, flush_at = flow.next_flush();
        if (flush_at && (!wake || flush_at < wake)) wake = flush_at;
        if (leader && (!wake || epoch_end < wake)) wake = epoch_end;
        wait_a_little(wake, 100);
      }
    }
    EpochEnd why = group.end_reason();
    TimestampTz barrier_start = GetCurrentTimestamp();
    if (why == EpochEnd::Stop) flow.flush();
    flow.begin_barrier(int64(seq), why == EpochEnd::Stop);
    while (!flow.barrier_round()) {
      pg::call([&] { CHECK_FOR_INTERRUPTS(); });
      group.check(followers);
      wait_a_little(0, 10);
    }
    flow.end_transaction();
    TimestampTz started = GetCurrentTimestamp();
    cost.epochs++;
    cost.barrier_us += started - barrier_start;
    bool changed = flow.changed();
    Oid dboid = MyDatabaseId;
    if (!leader) {
      if (changed) {
        TimestampTz writing = GetCurrentTimestamp();
        store.begin();
        flow.checkpoint(store);
        store.finish_entries();
        cost.entries_us += GetCurrentTimestamp() - writing;
      }
      bool wrote = pg::call([&] { return TransactionIdIsValid(GetTopTransactionIdIfAny()); });
      if (wrote) {
        prepare_transaction(
            prepared_gid(dboid, group.pipeline_id(), group.run_id(), seq, group.subtask()));
        group.report(seq, EpochOutcome::Prepared);
      } else {
        commit_transaction();
        group.report(seq, EpochOutcome::Committed);
      }
      TimestampTz waited = GetCurrentTimestamp();
      group.wait_decided(seq);
      cost.commit_wait_us += GetCurrentTimestamp() - waited;
    } else {
      // The leader writes its entries while the followers write theirs (closing the state
      // table again before it waits), then the record that commits them all.
      if (changed) {
        TimestampTz writing = GetCurrentTimestamp();
        store.begin();
        flow.checkpoint(store);
        store.finish_entries();
        cost.entries_us += GetCurrentTimestamp() - writing;
      }
      TimestampTz waited = GetCurrentTimestamp();
      std::vector<int> prepared = group.wait_reports(seq, followers);
      cost.commit_wait_us += GetCurrentTimestamp() - waited;
      bool wrote = pg::call([&] { return TransactionIdIsValid(GetTopTransactionIdIfAny()); });
      if (changed || wrote || !prepared.empty()) {
        store.begin(!changed);
        StateWriter w = store.writer(kGroupStateNode);
        w.put(0, "", group_record(group.run_id(), seq));
        store.finish(flow.fingerprint(), started);
        std::string own = prepared_gid(dboid, group.pipeline_id(), group.run_id(), seq, 0);
        prepare_transaction(own);
        finish_prepared(own, true);  // the epoch's commit point
        for (int w : prepared)
          finish_prepared(prepared_gid(dboid, group.pipeline_id(), group.run_id(), seq, w), true);
      } else {
        commit_transaction();
      }
      group.decide(seq);
      if (changed) flow.checkpoint_took(GetCurrentTimestamp() - started);
      hooks.publish(group.stats());
    }
    if (snapshot) flow.snapshot_committed();
    flow.committed();
    if (idle_after) {
      TimestampTz wake = idle_wake, flush_at = flow.next_flush();
      if (flush_at && (!wake || flush_at < wake)) wake = flush_at;
      wait_a_little(wake, 1000);
      idle_after = false;
    }
    cost.commit_us += GetCurrentTimestamp() - started;
    if (why == EpochEnd::Stop || why == EpochEnd::Finish) {
      log_cost(group, cost, GetCurrentTimestamp() - run_start);
      return why == EpochEnd::Stop ? SlotState::Stopped : SlotState::Finished;
    }
  }
}

namespace {

// The pipeline's prepared transactions and, for each, whether to commit it: those of an epoch
// its leader recorded as committed (the leader commits its own part first). Needs a
// transaction.
std::vector<std::pair<std::string, bool>> prepared_decisions(Oid dboid, int32 pipeline_id) {
  std::vector<std::string> gids;
  std::string prefix = prepared_gid_prefix(dboid, pipeline_id);
  pg::call([&] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    Oid types[] = {TEXTOID};
    Datum values[] = {CStringGetTextDatum(prefix.c_str())};
    if (SPI_execute_with_args("SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1) "
                              "ORDER BY gid",
                              1, types, values, nullptr, true, 0) != SPI_OK_SELECT)
      elog(ERROR, "arroyo_stream: could not list prepared transactions");
    for (uint64 i = 0; i < SPI_processed; i++)
      gids.emplace_back(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
    SPI_finish();
  });
  std::vector<std::pair<std::string, bool>> out;
  if (gids.empty()) return out;
  std::optional<std::string> record = CheckpointStore::read_entry(pipeline_id, kGroupStateNode);
  int64 run = -1, last = -1;
  if (record) {
    std::vector<int64> v = decode_ints(*record, 2, "the record of a pipeline's committed epochs");
    run = v[0];
    last = v[1];
  }
  for (const std::string& gid : gids) {
    // <prefix><run>:<epoch>:<worker>
    unsigned long long g_run = 0, g_seq = 0;
    int g_worker = 0;
    bool parsed =
        sscanf(gid.c_str() + prefix.size(), "%llu:%llu:%d", &g_run, &g_seq, &g_worker) == 3;
    out.emplace_back(gid, parsed && int64(g_run) == run && int64(g_seq) <= last);
  }
  return out;
}

void log_resolved(const std::string& gid, bool commit) {
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s prepared transaction %s left by an earlier run",
                         commit ? "committed" : "rolled back", gid.c_str())));
  });
}

}  // namespace

void resolve_prepared(Oid dboid, int32 pipeline_id) {
  begin_transaction();
  // A follower of an earlier run may still be exiting: wait until each has.
  pg::call([&] {
    for (int s = 1; s < kMaxParallelism; s++) {
      LOCKTAG tag;
      follower_lock_tag(&tag, pipeline_id, s);
      (void)LockAcquire(&tag, ExclusiveLock, true, false);
      LockRelease(&tag, ExclusiveLock, true);
    }
  });
  std::vector<std::pair<std::string, bool>> decisions = prepared_decisions(dboid, pipeline_id);
  commit_transaction();
  for (const auto& [gid, commit] : decisions) {
    finish_prepared(gid, commit);
    log_resolved(gid, commit);
  }
}

void resolve_prepared_at_drop(Oid dboid, int32 pipeline_id, Oid owner) {
  for (const auto& [gid, commit] : prepared_decisions(dboid, pipeline_id)) {
    pg::call([&] {
      Oid saved_user;
      int saved_sec;
      GetUserIdAndSecContext(&saved_user, &saved_sec);
      SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
      FinishPreparedTransaction(gid.c_str(), commit);
      SetUserIdAndSecContext(saved_user, saved_sec);
    });
    log_resolved(gid, commit);
  }
}

std::vector<BackgroundWorkerHandle*> launch_followers(const WorkerGroup& group, Oid dboid,
                                                      Oid owner, int32 pipeline_id,
                                                      const std::string& name) {
  std::vector<BackgroundWorkerHandle*> handles;
  for (int s = 1; s < group.size(); s++) {
    FollowerArgs args{dboid, owner, pipeline_id, group.handle(), s};
    BackgroundWorkerHandle* handle = nullptr;
    bool ok = pg::call([&] {
      BackgroundWorker w;
      memset(&w, 0, sizeof(w));
      w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
      w.bgw_start_time = BgWorkerStart_RecoveryFinished;
      w.bgw_restart_time = BGW_NEVER_RESTART;
      strlcpy(w.bgw_library_name, "arroyo_stream", BGW_MAXLEN);
      strlcpy(w.bgw_function_name, "arroyo_stream_follower_main", BGW_MAXLEN);
      strlcpy(w.bgw_type, "arroyo_stream pipeline", BGW_MAXLEN);
      snprintf(w.bgw_name, BGW_MAXLEN, "arroyo_stream pipeline %s worker %d", name.c_str(), s);
      memcpy(w.bgw_extra, &args, sizeof(args));
      w.bgw_notify_pid = MyProcPid;
      MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
      bool registered = RegisterDynamicBackgroundWorker(&w, &handle);
      MemoryContextSwitchTo(old);
      return registered;
    });
    if (!ok) {
      for (BackgroundWorkerHandle* h : handles) TerminateBackgroundWorker(h);
      pg::fail(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
               "could not start worker " + std::to_string(s) + " of pipeline \"" + name +
                   "\" (parallelism " + std::to_string(group.size()) + ")",
               {}, "Raise max_worker_processes (needs a restart) or lower the parallelism.");
    }
    handles.push_back(handle);
  }
  return handles;
}

void stop_followers(WorkerGroup* group, const std::vector<BackgroundWorkerHandle*>& followers) {
  if (group) {
    group->fail("the pipeline's leader worker stopped");
    for (BackgroundWorkerHandle* h : followers) TerminateBackgroundWorker(h);
  }
  for (BackgroundWorkerHandle* h : followers) {
    try {
      pg::call([&] { (void)WaitForBackgroundWorkerShutdown(h); });
    } catch (const std::exception&) {
      // Interrupted (a second terminate): the followers end on their own.
    }
  }
}

EngineStats sum_stats(const std::vector<EngineStats>& workers) {
  EngineStats out;
  bool first = true;
  for (size_t w = 0; w < workers.size(); w++) {
    const EngineStats& s = workers[w];
    out.rows_in += s.rows_in;
    out.rows_out += s.rows_out;
    out.bad_rows += s.bad_rows;
    out.late_rows += s.late_rows;
    out.bad_rows_engine += s.bad_rows_engine;
    out.state_bytes += s.state_bytes;
    if (s.watermark != DT_NOBEGIN && (out.watermark == DT_NOBEGIN || s.watermark < out.watermark))
      out.watermark = s.watermark;
    if (!s.source_status.empty()) {
      if (!out.source_status.empty()) out.source_status += "; ";
      out.source_status +=
          (workers.size() > 1 ? "worker " + std::to_string(w) + ": " : "") + s.source_status;
    }
    if (first) {
      out.nodes = s.nodes;
      first = false;
      continue;
    }
    for (size_t i = 0; i < s.nodes.size() && i < out.nodes.size(); i++) {
      NodeStats& a = out.nodes[i];
      const NodeStats& b = s.nodes[i];
      a.rows_in += b.rows_in;
      a.rows_out += b.rows_out;
      a.late_rows += b.late_rows;
      a.bad_rows += b.bad_rows;
      a.state_bytes += b.state_bytes;
      if (b.state_keys >= 0) a.state_keys = std::max<int64>(a.state_keys, 0) + b.state_keys;
      a.busy_us += b.busy_us;
      if (b.watermark != DT_NOBEGIN && (a.watermark == DT_NOBEGIN || b.watermark < a.watermark))
        a.watermark = b.watermark;
    }
  }
  return out;
}

uint32 fingerprint_hash(const std::string& fingerprint) {
  return hash_bytes(reinterpret_cast<const unsigned char*>(fingerprint.data()),
                    int(fingerprint.size()));
}

// Takes the lock a follower holds while it lives (session level: released at its exit).
void hold_follower_lock(int32 pipeline_id, int subtask) {
  pg::call([&] {
    LOCKTAG tag;
    follower_lock_tag(&tag, pipeline_id, subtask);
    (void)LockAcquire(&tag, ExclusiveLock, true, false);
  });
}

}  // namespace arroyo
