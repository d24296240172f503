// The supervisor (one per server, registered at load time) and the per-database launchers it
// starts. After a (re)start, every database's launcher starts the pipelines whose desired
// state is running; they resume from their last checkpoint. Later, when a pipeline's worker
// dies without recording its end (killed, or crashed), the supervisor has a launcher start it
// again, from its last checkpoint. (A pipeline that fails with an error records its failure
// itself and stays failed.)
#include "catalog/pipelines.hpp"
#include "pg/guard.hpp"
#include "pg/wait.hpp"
#include "worker/launch.hpp"
#include "worker/slots.hpp"

extern "C" {
#include "catalog/pg_database.h"
#include "postmaster/interrupt.h"
}

#include <algorithm>
#include <set>
#include <vector>

namespace arroyo {

namespace {

// Databases that accept connections.
std::vector<Oid> list_databases() {
  std::vector<Oid> out;
  std::vector<Oid>* outp = &out;
  pg::call([&] {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      Form_pg_database db = (Form_pg_database)GETSTRUCT(tup);
      if (db->datallowconn && !db->datistemplate) outp->push_back(db->oid);
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
  });
  return out;
}

void supervise() {
  pg::call([&] { BackgroundWorkerInitializeConnection(nullptr, nullptr, 0); });
  slots::set_supervisor_latch(MyLatch);
  for (Oid db : list_databases()) {
    if (ShutdownRequestPending) return;
    run_database_launcher(db);
  }
  while (!ShutdownRequestPending) {
    pg::wait_latch(1000);
    std::set<Oid> dbs = slots::databases_with_died_workers();
    if (dbs.empty()) continue;
    // A database dropped under its workers (DROP DATABASE ... WITH (FORCE) terminates them)
    // has no launcher to free their slots: free them here.
    std::vector<Oid> live = list_databases();
    for (auto it = dbs.begin(); it != dbs.end();) {
      if (std::find(live.begin(), live.end(), *it) != live.end()) {
        ++it;
        continue;
      }
      slots::release_died(*it);
      it = dbs.erase(it);
    }
    if (dbs.empty()) continue;
    // A worker killed by a server shutdown must not be recorded as failed: give the shutdown
    // time to reach us first.
    pg::call([&] {
      (void)WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
    });
    for (Oid db : dbs)
      if (!ShutdownRequestPending) run_database_launcher(db);
  }
}

// Frees the slots of this database's pipelines whose workers died, then starts every pipeline
// whose desired state is running but which has no worker (resuming from its checkpoint).
void launch_database(Oid dboid) {
  pg::call([&] { BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0); });
  pg::call([&] {
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
  });
  bool installed = pg::call([&] { return OidIsValid(get_extension_oid("arroyo_stream", true)); });
  if (!installed) slots::release_died(dboid);  // dropped with the extension: nothing to resume
  if (installed) {
    for (const slots::DiedSlot& died : slots::died_workers(dboid)) {
      std::optional<PipelineRow> row = catalog_get(died.pipeline_id);
      const char* name = row ? row->name.c_str() : "?";
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: the worker of pipeline \"%s\" died (%s); "
                             "resuming it from its last checkpoint",
                             name, died.error.c_str())));
      });
      slots::release(died.index);
    }
    for (const PipelineRow& row : catalog_running()) {
      if (slots::has_slot(dboid, row.id)) continue;
      try {
        PipelineWorkerArgs args{dboid, row.owner, row.id,
                                slots::claim(dboid, row.id, row.name.c_str()),
                                InvalidTransactionId};
        launch_pipeline_worker(args, row.name.c_str(), false);
      } catch (const pg::Error& e) {
        pg::call([&] {
          ereport(LOG, (errmsg("arroyo_stream: could not start pipeline \"%s\": %s",
                               row.name.c_str(), e.message().c_str())));
        });
      }
    }
  }
  pg::call([&] {
    PopActiveSnapshot();
    CommitTransactionCommand();
  });
}

// Logs an error that ends a supervisor or launcher process.
void log_exit(const char* who, const std::exception& e) {
  pg::call([&] { ereport(LOG, (errmsg("arroyo_stream %s exiting: %s", who, e.what()))); });
}

}  // namespace

}  // namespace arroyo

extern "C" {

PGDLLEXPORT void arroyo_stream_supervisor_main(Datum);
PGDLLEXPORT void arroyo_stream_launcher_main(Datum);

void arroyo_stream_supervisor_main(Datum) {
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  BackgroundWorkerUnblockSignals();
  try {
    arroyo::supervise();
  } catch (const std::exception& e) {
    arroyo::log_exit("supervisor", e);
    proc_exit(1);
  }
  proc_exit(0);
}

void arroyo_stream_launcher_main(Datum arg) {
  BackgroundWorkerUnblockSignals();
  try {
    arroyo::launch_database(DatumGetObjectId(arg));
  } catch (const std::exception& e) {
    arroyo::log_exit("launcher", e);
    proc_exit(1);
  }
  proc_exit(0);
}

}  // extern "C"
