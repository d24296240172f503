// The logical plan: what stream_create validates and a pipeline worker turns into operators.
// Expressions stay PostgreSQL expression trees (already planned with expression_planner);
// each node produces rows in `desc`, whose attribute k is referenced by Vars with varattno k.
#pragma once

#include "connectors/connector.hpp"

#include <memory>
#include <string>
#include <vector>

namespace arroyo {

struct PlanNode {
  enum class Kind { Source, Project, Union };
  explicit PlanNode(Kind k) : kind(k) {}
  virtual ~PlanNode() = default;
  Kind kind;
  TupleDesc desc = nullptr;  // rows this node produces
};

// Reads a foreign table through its connector; rows in the table's full layout.
struct SourceNode : PlanNode {
  SourceNode() : PlanNode(Kind::Source) {}
  TableSpec spec;
  const Connector* connector = nullptr;
};

// Filters (quals, implicitly ANDed) then computes `targets` (one Expr per output column).
struct ProjectNode : PlanNode {
  ProjectNode() : PlanNode(Kind::Project) {}
  std::unique_ptr<PlanNode> input;
  List* quals = nullptr;    // of Expr
  List* targets = nullptr;  // of TargetEntry, resno 1..n
};

// UNION ALL: rows of every input, which all have the same column types.
struct UnionNode : PlanNode {
  UnionNode() : PlanNode(Kind::Union) {}
  std::vector<std::unique_ptr<PlanNode>> inputs;
};

// Where results go.
struct SinkTarget {
  Oid relid = InvalidOid;
  std::string name;
  bool is_table = true;              // a regular table; else a sink foreign table
  TableSpec spec;                    // for foreign tables
  const Connector* connector = nullptr;
};

// Pipeline-level settings given with SET before the INSERT.
struct PipelineSettings {
  int64 checkpoint_interval_us = -1;  // -1: the GUC's value
};

struct LogicalPlan {
  PipelineSettings settings;
  std::unique_ptr<PlanNode> root;  // produces rows in the target's full layout
  SinkTarget sink;
};

// Parses, analyzes and checks a pipeline query as the current user; every unsupported
// construct or missing privilege is an ERROR. Needs a transaction.
LogicalPlan plan_pipeline(const std::string& query_text);

}  // namespace arroyo
