// Workers 1..N-1 of a pipeline that runs as N workers (SET parallelism): each plans the
// pipeline's query as the leader did, builds the same dataflow over its share of the input,
// resumes its own part of the last checkpoint, and runs epoch by epoch as the leader decides
// (worker/group_run.hpp). It holds no slot: the leader shows the group's counters and records
// how the run ended. A follower that fails tells the group why, and every worker stops.
#include "catalog/pipeline_objects.hpp"
#include "catalog/pipelines.hpp"
#include "pg/guard.hpp"
#include "planner/planner.hpp"
#include "runtime/recovery.hpp"
#include "worker/group_run.hpp"
#include "worker/launch.hpp"
#include "worker/transactions.hpp"

extern "C" {
#include "utils/ps_status.h"
}

namespace arroyo {

namespace {

// Runs worker `args.subtask` of the pipeline until its group finishes, stops or fails.
void run_follower(const FollowerArgs& args) {
  std::unique_ptr<WorkerGroup> group;
  std::unique_ptr<Dataflow> flow;
  std::unique_ptr<CheckpointStore> store;
  try {
    begin_transaction();
    hold_follower_lock(args.pipeline_id, args.subtask);
    group = WorkerGroup::attach(args.segment, args.subtask);
    std::optional<PipelineRow> row = catalog_get(args.pipeline_id);
    if (!row) pg::fail(ERRCODE_UNDEFINED_OBJECT, "the pipeline was dropped");
    pg::call([&] {
      pgstat_report_appname(
          psprintf("arroyo_stream: %s worker %d", row->name.c_str(), args.subtask));
      set_ps_display(psprintf("%s worker %d", row->name.c_str(), args.subtask));
      if (synchronous_commit == SYNCHRONOUS_COMMIT_OFF)
        SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);
    });
    MemoryContext pipeline_memory = pg::call([&] {
      return AllocSetContextCreate(TopMemoryContext, "arroyo_stream pipeline",
                                   ALLOCSET_DEFAULT_SIZES);
    });
    MemoryContext round_memory = pg::call([&] {
      return AllocSetContextCreate(pipeline_memory, "arroyo_stream round", ALLOCSET_DEFAULT_SIZES);
    });
    MemoryContext old = MemoryContextSwitchTo(pipeline_memory);
    std::string query = pipeline_query_now(*row).value_or(row->query);
    LogicalPlan plan = plan_pipeline(query, row->search_path.c_str());
    RuntimeInfo info{GetCurrentTimestamp(), row->name,  args.subtask,
                     group->size(),         args.dboid, args.pipeline_id};
    flow = std::make_unique<Dataflow>(plan, round_memory, info, pipeline_ttl_us(plan.settings),
                                      pipeline_flush_us(plan.settings), nullptr, group.get());
    store = std::make_unique<CheckpointStore>(args.pipeline_id);
    resume(*flow, *store);
    MemoryContextSwitchTo(old);
    commit_transaction();
    group->attach_queues();
    group->report_ready(fingerprint_hash(flow->fingerprint()));
    run_in_group(*flow, *store, *group, pipeline_checkpoint_us(plan.settings), GroupHooks{}, {});
    flow->measure_state();
    group->publish(flow->stats());
    flow->close();
    // The leader records the run's end now; freeing the state may take a while.
    group->report_finished();
  } catch (const GroupFailed& e) {
    // Another worker failed, or the leader is gone: it reports why.
    pg::call([&] { AbortOutOfAnyTransaction(); });
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (auto* pe = dynamic_cast<const pg::Error*>(&e)) message = pe->full_message();
    pg::call([&] { AbortOutOfAnyTransaction(); });
    pg::call([&] {
      ereport(LOG, (errmsg("arroyo_stream pipeline worker %d failed: %s", args.subtask,
                           message.c_str())));
    });
    if (group) group->fail("worker " + std::to_string(args.subtask) + ": " + message);
  }
  flow.reset();
}

}  // namespace

}  // namespace arroyo

extern "C" {

PGDLLEXPORT void arroyo_stream_follower_main(Datum);

void arroyo_stream_follower_main(Datum) {
  arroyo::FollowerArgs args;
  memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnectionByOid(args.dboid, args.owner, 0);
  arroyo::run_follower(args);
  proc_exit(0);
}

}  // extern "C"
