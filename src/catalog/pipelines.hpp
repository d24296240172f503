// Reading and writing the extension's own catalog table _arroyo_stream.pipelines.
// Every access runs as the table's owner, so users can reach pipelines only through the API.
// All functions need an open transaction.
#pragma once

#include "pg/postgres.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace arroyo {

struct PipelineRow {
  int32 id = 0;
  std::string name;
  std::string query;
  Oid owner = InvalidOid;
  std::string search_path;
  std::string state;  // created | running | finished | stopped | failed
  std::string last_error;
  // The query deparsed from the pipeline's view and rule at stream_create (empty for pipelines
  // created before 0.3.0): stream_pipelines shows the text as written while the deparse of now
  // equals it.
  std::string definition;
};

// Final counters of a run, kept in the catalog once the worker is gone.
struct RunStats {
  int64 rows_in = 0, rows_out = 0, bad_rows = 0, late_rows = 0, state_bytes = 0;
};

// Runs SPI work (inside an SPI connection) as the owner of the extension's catalog tables,
// restoring the caller's identity afterwards.
void as_catalog_owner(const std::function<void()>& body);

std::optional<PipelineRow> catalog_find(const std::string& name);
std::optional<PipelineRow> catalog_get(int32 id);
// Pipelines whose desired state is running (for the launcher after a restart).
std::vector<PipelineRow> catalog_running();
int32 catalog_insert(const std::string& name, const std::string& query, Oid owner,
                     const std::string& search_path);
void catalog_delete(int32 id);
void catalog_set_definition(int32 id, const std::string& definition);
// Replaces the pipeline's text as written (stream_rescale's new settings).
void catalog_set_query(int32 id, const std::string& query);
// Whether the installed extension script (0.3.0 on) records definitions: before it, pipelines
// own no view and run from their text as written.
bool catalog_has_definitions();
// Marks a pipeline running (clearing the last error) as stream_start does.
void catalog_mark_started(int32 id);
// Counts a worker start that has not made progress yet; returns how many there have been in a
// row (see unprogressed_starts in the extension script).
int catalog_count_start(int32 id);
// The pipeline made progress: clears that count.
void catalog_clear_starts(int32 id);
// Records the end of a run: state plus counters and error. Only applies while the catalog says
// running, unless `force`, so a late writer never overwrites a user's stop or drop.
void catalog_mark_ended(int32 id, const std::string& state, const RunStats& stats,
                        const std::string& error, bool force = false);

}  // namespace arroyo
