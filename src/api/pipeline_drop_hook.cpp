// A pipeline whose view is dropped (DROP … CASCADE of something its query uses, DROP OWNED BY
// its owner) is dropped with it: its catalog row and checkpoints go in the same transaction,
// its worker is asked to stop when that transaction commits, and its replication slot is
// dropped just before the commit, or by the worker itself when it ends (it holds the slot until
// then). See catalog/pipeline_objects.hpp for the view.
#include "catalog/pipeline_objects.hpp"
#include "catalog/pipelines.hpp"
#include "core/connector.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "worker/slots.hpp"

extern "C" {
#include "catalog/objectaccess.h"
}

#include <vector>

namespace arroyo {

namespace {

object_access_hook_type prev_object_access = nullptr;
std::vector<int32> dropped_in_xact;  // pipelines whose view this transaction dropped
bool xact_callback_registered = false;

// Before the commit, frees the replication slots of dropped pipelines that no worker holds;
// after it, asks the workers of the others to stop (without waiting: the dropping transaction
// held locks that a worker may have been waiting for). An error before the commit aborts the
// transaction, as PostgreSQL expects.
void handle_xact_event(XactEvent event) {
  if (event == XACT_EVENT_PRE_COMMIT) {
    for (int32 id : dropped_in_xact) {
      std::optional<SlotState> st = slots::find_state(MyDatabaseId, id);
      if (st && !is_terminal(*st)) continue;  // its worker drops the slot when it ends
      try {
        drop_pipeline_resources(MyDatabaseId, id);
      } catch (const std::exception& e) {
        pg::fail(ERRCODE_OBJECT_IN_USE,
                 std::string("could not drop the replication slot of a dropped pipeline: ") +
                     e.what());
      }
    }
    return;
  }
  if (event == XACT_EVENT_COMMIT)
    for (int32 id : dropped_in_xact) slots::request_stop(MyDatabaseId, id);
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
      event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
      event == XACT_EVENT_PREPARE)
    dropped_in_xact.clear();
}

void on_xact(XactEvent event, void*) {
  if (dropped_in_xact.empty()) return;
  pg::entry([&] { handle_xact_event(event); });
}

// Unless stream_drop is dropping the view (it deletes the catalog row first), the pipeline
// goes with it.
void view_dropped(Oid relid) {
  std::optional<std::string> name = pipeline_of_view(relid);
  if (!name) return;
  std::optional<PipelineRow> row = catalog_find(*name);
  if (!row) return;
  CheckpointStore::remove_all(row->id);
  catalog_delete(row->id);
  if (!xact_callback_registered) {
    pg::call([&] { RegisterXactCallback(on_xact, nullptr); });
    xact_callback_registered = true;
  }
  dropped_in_xact.push_back(row->id);
}

void object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void* arg) {
  if (prev_object_access) prev_object_access(access, classId, objectId, subId, arg);
  if (access != OAT_DROP || classId != RelationRelationId || subId != 0) return;
  pg::entry([&] { view_dropped(objectId); });
}

}  // namespace

void install_pipeline_drop_hook() {
  prev_object_access = object_access_hook;
  object_access_hook = object_access;
}

}  // namespace arroyo
