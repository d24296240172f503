// Library entry point: GUCs, shared memory, the DDL hook and the supervisor.
#include "pg/guard.hpp"
#include "worker/launch.hpp"
#include "worker/shmem.hpp"

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
  if (!process_shared_preload_libraries_in_progress) return;
  loaded_at_preload = true;
  DefineCustomIntVariable("arroyo_stream.max_pipelines",
                          "Maximum number of pipelines running at once (server-wide).", nullptr,
                          &max_pipelines_guc, 32, 1, 1024, PGC_POSTMASTER, 0, nullptr, nullptr,
                          nullptr);
  MarkGUCPrefixReserved("arroyo_stream");
  request_shared_memory();
  install_ddl_hook();
  register_supervisor();
}
