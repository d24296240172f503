// Pipeline settings: the `SET name = value;` statements that may precede a pipeline's INSERT.
#pragma once

#include "core/plan.hpp"

namespace arroyo {

// Applies one SET statement to `settings`; unknown names are an ERROR listing the known ones.
void apply_setting(VariableSetStmt* stmt, PipelineSettings& settings);
// Fails if the plan cannot run as the workers its `parallelism` setting asks for.
void check_parallelism(const LogicalPlan& plan);

}  // namespace arroyo
