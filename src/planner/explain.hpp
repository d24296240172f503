// stream_explain's rendering: a LogicalPlan as EXPLAIN-like text or as a JSON document. Nodes
// are numbered as core/plan_walk.hpp numbers them, the numbers stream_operators shows.
#pragma once

#include "core/plan.hpp"

#include <string>
#include <vector>

namespace arroyo {

// The values a pipeline uses for settings its query does not SET (the GUCs'), microseconds.
struct ExplainDefaults {
  int64 checkpoint_interval_us = 0;
  int64 update_flush_interval_us = 0;
  int64 updating_ttl_us = 0;  // 0: keys never expire
};

// The plan as text lines (json: one line holding the whole document). Needs a transaction
// (expressions are deparsed with PostgreSQL's deparser).
std::vector<std::string> explain_plan(const LogicalPlan& plan, const ExplainDefaults& defaults,
                                      bool json);

}  // namespace arroyo
