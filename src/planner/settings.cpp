#include "planner/settings.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/twophase.h"
}

namespace arroyo {

namespace {

const char* const kSupported =
    "checkpoint_interval, lookup.cache.max_rows, lookup.cache.ttl, parallelism, "
    "update_aggregate_flush_interval, updating_ttl";

// The most workers one pipeline can run as (worker/worker_group.hpp's kMaxParallelism).
constexpr int kMostWorkers = 32;

// A positive integer setting (setting_value would read a bare number as milliseconds).
int64 integer_setting(VariableSetStmt* stmt, const char* name, int64 most) {
  Node* arg = stmt->kind == VAR_SET_VALUE && list_length(stmt->args) == 1
                  ? (Node*)linitial(stmt->args)
                  : nullptr;
  if (!arg || !IsA(arg, A_Const) || ((A_Const*)arg)->isnull ||
      !IsA(&((A_Const*)arg)->val, Integer) || intVal(&((A_Const*)arg)->val) <= 0 ||
      intVal(&((A_Const*)arg)->val) > most)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string("pipeline setting \"") + name + "\" must be " +
                 (most == PG_INT32_MAX ? std::string("a positive integer")
                                       : "an integer from 1 to " + std::to_string(most)));
  return intVal(&((A_Const*)arg)->val);
}

// The value of `SET name = value` as text (a string or a number).
std::string setting_value(VariableSetStmt* stmt) {
  if (stmt->kind != VAR_SET_VALUE || list_length(stmt->args) != 1)
    pg::fail(ERRCODE_SYNTAX_ERROR,
             std::string("pipeline setting \"") + stmt->name + "\" needs exactly one value");
  Node* arg = (Node*)linitial(stmt->args);
  if (!IsA(arg, A_Const))
    pg::fail(ERRCODE_SYNTAX_ERROR,
             std::string("pipeline setting \"") + stmt->name + "\" needs a constant value");
  A_Const* c = (A_Const*)arg;
  if (c->isnull)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string("pipeline setting \"") + stmt->name + "\" cannot be NULL");
  switch (nodeTag(&c->val)) {
    case T_String: return strVal(&c->val);
    case T_Integer: return std::to_string(intVal(&c->val)) + " ms";  // like the GUC's unit
    case T_Float: return c->val.fval.fval;
    default: break;
  }
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           std::string("pipeline setting \"") + stmt->name + "\" has an unsupported value");
}

// Parses an interval setting into microseconds; it must be positive.
int64 interval_setting(const char* name, const std::string& value) {
  int64 us;
  try {
    us = parse_interval_us(value);
  } catch (const pg::Error& e) {
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string("invalid value for pipeline setting \"") + name + "\": " + e.message());
  }
  if (us <= 0)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string("pipeline setting \"") + name + "\" must be a positive interval");
  return us;
}

}  // namespace

void apply_setting(VariableSetStmt* stmt, PipelineSettings& settings) {
  std::string name = stmt->name ? stmt->name : "";
  if (name == "checkpoint_interval") {
    settings.checkpoint_interval_us = interval_setting("checkpoint_interval", setting_value(stmt));
    return;
  }
  if (name == "updating_ttl") {
    settings.updating_ttl_us = interval_setting("updating_ttl", setting_value(stmt));
    return;
  }
  if (name == "update_aggregate_flush_interval") {
    settings.update_flush_interval_us =
        interval_setting("update_aggregate_flush_interval", setting_value(stmt));
    return;
  }
  if (name == "lookup.cache.ttl") {
    settings.lookup_cache_ttl_us = interval_setting("lookup.cache.ttl", setting_value(stmt));
    return;
  }
  if (name == "lookup.cache.max_rows") {
    settings.lookup_cache_max_rows = integer_setting(stmt, "lookup.cache.max_rows", PG_INT32_MAX);
    return;
  }
  if (name == "parallelism") {
    settings.parallelism = int(integer_setting(stmt, "parallelism", kMostWorkers));
    return;
  }
  pg::fail(ERRCODE_UNDEFINED_OBJECT, "unknown pipeline setting \"" + name + "\"",
           std::string("Supported settings: ") + kSupported + ".");
}

void check_parallelism(const LogicalPlan& plan) {
  int n = plan.settings.parallelism;
  if (n <= 1) return;
  if (plan.sink.is_table && plan.sink.foreign)
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "a pipeline writing into a foreign table of another wrapper runs as one worker",
             "Its workers commit together with two-phase commit, which " + plan.sink.name +
                 "'s wrapper does not take part in.",
             "Remove SET parallelism.");
  if (max_prepared_xacts < n)
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
             "parallelism " + std::to_string(n) + " needs max_prepared_transactions >= " +
                 std::to_string(n) + " (it is " + std::to_string(max_prepared_xacts) + ")",
             "The workers of a pipeline commit each epoch together with two-phase commit: each "
             "prepares one transaction.",
             "Set max_prepared_transactions in postgresql.conf (needs a restart): at least the "
             "sum of the running pipelines' parallelism.");
}

}  // namespace arroyo
