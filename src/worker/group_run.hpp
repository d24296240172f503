// Running a pipeline as several workers (`SET parallelism = N`), exactly once across them:
//
//  * every worker runs the same dataflow over its share of the input, in transactions of one
//    epoch each. The leader (worker 0) decides when an epoch ends (its commit interval, a stop,
//    or every worker's dataflow having ended) and says so through the group's shared memory;
//  * each worker then ends the epoch with barriers through every exchange (Dataflow::
//    begin_barrier), so that no row of the epoch is left in flight, writes its checkpoint
//    entries, and PREPAREs its transaction (two-phase commit) if it wrote anything;
//  * once every follower has prepared (or committed a transaction that wrote nothing), the
//    leader writes the checkpoint's record — and, in the state table, which epoch of which run
//    it committed — prepares its own transaction and commits it: that COMMIT PREPARED is the
//    epoch's commit point. It then commits the followers' prepared transactions;
//  * after a crash of any worker or of the server, the prepared transactions left are resolved
//    before the pipeline runs again (resolve_prepared): those of an epoch whose leader part
//    committed are committed, all others rolled back. Either way every worker's state,
//    positions and target rows of an epoch commit together, or not at all.
#pragma once

#include "runtime/dataflow.hpp"
#include "state/checkpoint_store.hpp"
#include "worker/slots.hpp"
#include "worker/worker_group.hpp"

#include <functional>

namespace arroyo {

// What the leader does besides running its share (the followers pass empty functions).
struct GroupHooks {
  // The leader's dataflow reads table changes (change data capture, in the leader only): it
  // decodes between transactions, so an epoch ends as soon as nothing new comes.
  bool decodes_between_transactions = false;
  std::function<bool()> stop_requested;
  // The workers' counters (index: worker), about every 50 ms and at the end of each epoch.
  std::function<void(const std::vector<EngineStats>&)> publish;
};

// Runs this worker's dataflow epoch by epoch until the group finishes or stops; returns how.
SlotState run_in_group(Dataflow& flow, CheckpointStore& store, WorkerGroup& group,
                       int64 commit_interval_us, const GroupHooks& hooks,
                       const std::vector<BackgroundWorkerHandle*>& followers);

// Commits or rolls back the prepared transactions that earlier runs of the pipeline left,
// after waiting for any follower of an earlier run still exiting. Outside a transaction.
void resolve_prepared(Oid dboid, int32 pipeline_id);
// The same inside stream_drop's transaction (its worker stopped), as the pipeline's owner: a
// crash's leftovers would otherwise hold their locks on the state and target rows forever.
void resolve_prepared_at_drop(Oid dboid, int32 pipeline_id, Oid owner);

// The leader starts workers 1..N-1 of its group; a follower that cannot start fails the start.
std::vector<BackgroundWorkerHandle*> launch_followers(const WorkerGroup& group, Oid dboid,
                                                      Oid owner, int32 pipeline_id,
                                                      const std::string& name);
// The leader, on any exit: waits until the followers have exited; `group` given, they are
// first told the group fails and terminated (else they end with the group's last epoch).
void stop_followers(WorkerGroup* group, const std::vector<BackgroundWorkerHandle*>& followers);

// A follower takes, for its whole life, a lock that resolve_prepared waits for.
void hold_follower_lock(int32 pipeline_id, int subtask);

// Counters of the whole group: sums, the least known watermark, each node's sums.
EngineStats sum_stats(const std::vector<EngineStats>& workers);

// A 32-bit hash of a dataflow's fingerprint (the leader checks every worker built the same).
uint32 fingerprint_hash(const std::string& fingerprint);

}  // namespace arroyo
