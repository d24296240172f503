// Library entry point: GUCs, shared memory, the DDL hook and the supervisor.
#include "api/rest/rest_api.hpp"
#include "pg/guard.hpp"
#include "worker/launch.hpp"
#include "worker/slots.hpp"

extern "C" {
PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

namespace arroyo {

bool loaded_at_preload = false;
void install_ddl_hook();

}  // namespace arroyo

void _PG_init(void) {
  using namespace arroyo;
  DefineCustomIntVariable(
      "arroyo_stream.checkpoint_interval",
      "How often a running pipeline commits its writes (and, later, its state).",
      "Per pipeline: SET checkpoint_interval = '…' before the pipeline's INSERT.",
      &checkpoint_interval_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
      nullptr);
  DefineCustomIntVariable(
      "arroyo_stream.updating_ttl",
      "How long an updating aggregate keeps a key's state after the last event for it.",
      "Measured in event time against the watermark; 0 (the default) keeps every key, so that "
      "results equal the batch query's. Per pipeline: SET updating_ttl = '…'.",
      &updating_ttl_s, 0, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("arroyo_stream.update_aggregate_flush_interval",
                          "How often updating aggregates emit their buffered changes.",
                          "Per pipeline: SET update_aggregate_flush_interval = '…'.",
                          &update_flush_interval_ms, 1000, 1, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                          nullptr, nullptr, nullptr);
  if (!process_shared_preload_libraries_in_progress) return;
  loaded_at_preload = true;
  DefineCustomIntVariable(
      "arroyo_stream.max_pipelines", "Maximum number of pipelines running at once (server-wide).",
      nullptr, &max_pipelines_guc, 32, 1, 1024, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  rest_api_init();  // its GUCs, before the prefix is closed
  MarkGUCPrefixReserved("arroyo_stream");
  request_shared_memory();
  install_ddl_hook();
  register_supervisor();
}
