// Starting background workers: the supervisor, per-database launchers and pipeline workers.
#pragma once

#include "core/plan.hpp"
#include "pg/postgres.hpp"

namespace arroyo {

// What a pipeline worker needs to know, passed in bgw_extra.
struct PipelineWorkerArgs {
  Oid dboid;
  Oid owner;
  int32 pipeline_id;
  int slot;
  // The transaction that asked for the start; the worker waits for it to end, then runs only
  // if the catalog says the pipeline is running (so a rolled-back stream_start starts nothing).
  TransactionId launcher_xid;
};

// Registers the supervisor at server start (from _PG_init).
void register_supervisor();
// Starts a worker for a slot already claimed; returns its pid, or releases the slot and throws.
pid_t launch_pipeline_worker(const PipelineWorkerArgs& args, const char* pipeline_name,
                             bool wait_for_startup);
// Starts the launcher of one database (supervisor only) and waits until it has exited.
void run_database_launcher(Oid dboid);

// The GUC arroyo_stream.checkpoint_interval, in milliseconds.
extern int checkpoint_interval_ms;
// The GUCs arroyo_stream.updating_ttl (seconds) and .update_aggregate_flush_interval (ms).
extern int updating_ttl_s;
extern int update_flush_interval_ms;

// A pipeline's updating TTL, flush interval and checkpoint (commit) interval in microseconds:
// its SET value, else the GUC's.
int64 pipeline_ttl_us(const PipelineSettings& set);
int64 pipeline_flush_us(const PipelineSettings& set);
int64 pipeline_checkpoint_us(const PipelineSettings& set);

}  // namespace arroyo
