// The planner: a pipeline's SQL to a LogicalPlan (src/core/plan.hpp). Every "is this
// supported?" check lives here and fails at stream_create.
#pragma once

#include "core/plan.hpp"

#include <string>

namespace arroyo {

// Parses, analyzes and checks a pipeline query as the current user; every unsupported
// construct or missing privilege is an ERROR. Needs a transaction. With a search_path, names
// resolve with it (for the duration of planning), as they did when the pipeline was created.
LogicalPlan plan_pipeline(const std::string& query_text, const char* search_path = nullptr);
// Plans a query to preview (stream_preview): a SELECT (after optional SET statements), or a
// pipeline's INSERT INTO … SELECT …, whose target it leaves out. The sink is the preview.
// The SET statements of a pipeline's query (parsed, not analyzed).
PipelineSettings pipeline_settings(const std::string& query_text);
LogicalPlan plan_preview(const std::string& query_text, const char* search_path = nullptr);

}  // namespace arroyo
