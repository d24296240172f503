#include "core/plan_walk.hpp"

#include <functional>

namespace arroyo {

std::vector<PlanNode*> plan_inputs(const PlanNode& node) {
  switch (node.kind) {
    case PlanNode::Kind::Source: return {};
    case PlanNode::Kind::Project: return {static_cast<const ProjectNode&>(node).input.get()};
    case PlanNode::Kind::Union: {
      std::vector<PlanNode*> out;
      for (const PlanNodePtr& in : static_cast<const UnionNode&>(node).inputs)
        out.push_back(in.get());
      return out;
    }
    case PlanNode::Kind::WindowAggregate:
      return {static_cast<const WindowAggregateNode&>(node).input.get()};
    case PlanNode::Kind::UpdatingAggregate:
      return {static_cast<const UpdatingAggregateNode&>(node).input.get()};
    case PlanNode::Kind::Join: {
      auto& j = static_cast<const JoinNode&>(node);
      return {j.left.get(), j.right.get()};
    }
    case PlanNode::Kind::LookupJoin: return {static_cast<const LookupJoinNode&>(node).input.get()};
    case PlanNode::Kind::WindowFunction:
      return {static_cast<const WindowFunctionNode&>(node).input.get()};
    case PlanNode::Kind::TopN: return {static_cast<const TopNNode&>(node).input.get()};
    case PlanNode::Kind::ProjectSet: return {static_cast<const ProjectSetNode&>(node).input.get()};
  }
  return {};
}

std::string plan_kind_name(PlanNode::Kind kind) {
  switch (kind) {
    case PlanNode::Kind::Source: return "source";
    case PlanNode::Kind::Project: return "project";
    case PlanNode::Kind::Union: return "union";
    case PlanNode::Kind::WindowAggregate: return "window aggregate";
    case PlanNode::Kind::UpdatingAggregate: return "updating aggregate";
    case PlanNode::Kind::Join: return "join";
    case PlanNode::Kind::LookupJoin: return "lookup join";
    case PlanNode::Kind::WindowFunction: return "window functions";
    case PlanNode::Kind::TopN: return "top-n";
    case PlanNode::Kind::ProjectSet: return "set-returning functions";
  }
  return "node kind " + std::to_string(int(kind));
}

std::unordered_map<const PlanNode*, int> number_plan_nodes(const LogicalPlan& plan,
                                                           std::vector<const PlanNode*>* order) {
  std::unordered_map<const PlanNode*, int> ids;
  if (order) order->assign(1, nullptr);
  int next = 1;
  std::function<void(const PlanNode*)> visit = [&](const PlanNode* node) {
    if (!node || ids.count(node)) return;
    ids[node] = next++;
    if (order) order->push_back(node);
    for (PlanNode* in : plan_inputs(*node)) visit(in);
  };
  visit(plan.root.get());
  return ids;
}

}  // namespace arroyo
