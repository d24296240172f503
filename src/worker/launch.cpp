#include "worker/launch.hpp"

#include "pg/guard.hpp"
#include "worker/slots.hpp"

namespace arroyo {

int checkpoint_interval_ms = 1000;
int updating_ttl_s = 0;  // 0: keys never expire
int update_flush_interval_ms = 1000;

int64 pipeline_ttl_us(const PipelineSettings& set) {
  return set.updating_ttl_us > 0 ? set.updating_ttl_us : int64(updating_ttl_s) * USECS_PER_SEC;
}

int64 pipeline_flush_us(const PipelineSettings& set) {
  return set.update_flush_interval_us > 0 ? set.update_flush_interval_us
                                          : int64(update_flush_interval_ms) * 1000;
}

int64 pipeline_checkpoint_us(const PipelineSettings& set) {
  return set.checkpoint_interval_us > 0 ? set.checkpoint_interval_us
                                        : int64(checkpoint_interval_ms) * 1000;
}

namespace {

// Fills the common fields of a worker registration.
void init_worker(BackgroundWorker* w, const char* type, const char* name, const char* function) {
  memset(w, 0, sizeof(*w));
  w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w->bgw_start_time = BgWorkerStart_RecoveryFinished;
  w->bgw_restart_time = BGW_NEVER_RESTART;
  strlcpy(w->bgw_library_name, "arroyo_stream", BGW_MAXLEN);
  strlcpy(w->bgw_function_name, function, BGW_MAXLEN);
  strlcpy(w->bgw_type, type, BGW_MAXLEN);
  strlcpy(w->bgw_name, name, BGW_MAXLEN);
}

}  // namespace

void register_supervisor() {
  BackgroundWorker w;
  init_worker(&w, "arroyo_stream supervisor", "arroyo_stream supervisor",
              "arroyo_stream_supervisor_main");
  w.bgw_restart_time = 5;
  RegisterBackgroundWorker(&w);
}

pid_t launch_pipeline_worker(const PipelineWorkerArgs& args, const char* pipeline_name,
                             bool wait_for_startup) {
  bool registered = false;
  pid_t pid = 0;
  BgwHandleStatus status = BGWH_STARTED;
  pg::call([&] {
    BackgroundWorker w;
    char name[BGW_MAXLEN];
    snprintf(name, sizeof(name), "arroyo_stream pipeline %s", pipeline_name);
    init_worker(&w, "arroyo_stream pipeline", name, "arroyo_stream_pipeline_main");
    w.bgw_main_arg = Int32GetDatum(args.slot);
    memcpy(w.bgw_extra, &args, sizeof(args));
    w.bgw_notify_pid = wait_for_startup ? MyProcPid : 0;
    BackgroundWorkerHandle* handle;
    registered = RegisterDynamicBackgroundWorker(&w, &handle);
    if (registered && wait_for_startup) status = WaitForBackgroundWorkerStartup(handle, &pid);
  });
  if (!registered || status == BGWH_POSTMASTER_DIED) {
    slots::release(args.slot);
    pg::fail(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
             std::string("could not start a background worker for pipeline \"") + pipeline_name +
                 "\"",
             {}, "Raise max_worker_processes (needs a restart) or stop other pipelines.");
  }
  return pid;
}

void run_database_launcher(Oid dboid) {
  pg::call([&] {
    BackgroundWorker w;
    init_worker(&w, "arroyo_stream launcher", "arroyo_stream launcher",
                "arroyo_stream_launcher_main");
    w.bgw_main_arg = ObjectIdGetDatum(dboid);
    w.bgw_notify_pid = MyProcPid;
    BackgroundWorkerHandle* handle;
    if (!RegisterDynamicBackgroundWorker(&w, &handle)) {
      ereport(LOG, (errmsg("arroyo_stream: could not start a launcher for database %u", dboid)));
      return;
    }
    pid_t pid;
    if (WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
      WaitForBackgroundWorkerShutdown(handle);
  });
}

}  // namespace arroyo
