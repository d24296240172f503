// Walking a LogicalPlan (core/plan.hpp) in one fixed order, shared by stream_explain and the
// runtime's per-operator metrics, so that a node's number in EXPLAIN output is the `node` of
// its row in stream_operators.
#pragma once

#include "core/plan.hpp"

#include <unordered_map>
#include <vector>

namespace arroyo {

// A plan node's inputs, in port order. A kind this file does not know has none listed (its
// inputs then go unnumbered: add new kinds here).
std::vector<PlanNode*> plan_inputs(const PlanNode& node);

// The short name of a node kind ("source", "window aggregate", …); "node kind N" for a kind this
// file does not know.
std::string plan_kind_name(PlanNode::Kind kind);

// Numbers the plan's nodes: 0 is the sink, then every node from the root down, depth first,
// each before its inputs (left before right), a node reached twice numbered once. The result
// maps each numbered node to its number; `order` (if given) receives them by number, starting
// with nullptr for the sink.
std::unordered_map<const PlanNode*, int> number_plan_nodes(
    const LogicalPlan& plan, std::vector<const PlanNode*>* order = nullptr);

}  // namespace arroyo
