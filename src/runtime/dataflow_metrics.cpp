// Per-operator metrics of a running dataflow (the stream_operators view): the graph meters
// its nodes (runtime/graph.hpp); here they are summed by plan node, numbered as stream_explain
// numbers them (core/plan_walk.hpp), into EngineStats::nodes.
#include "core/plan_walk.hpp"
#include "runtime/dataflow.hpp"

#include <algorithm>
#include <cstring>

namespace arroyo {

void Dataflow::plan_metering(const LogicalPlan& plan, int sink) {
  std::vector<const PlanNode*> order;
  number_plan_nodes(plan, &order);
  metered_.clear();
  metered_.push_back(Metered{0, "sink", {sink}, -1, true});
  for (size_t id = 1; id < order.size(); id++) {
    auto* node = const_cast<PlanNode*>(order[id]);
    auto built = built_.find(node);
    if (built == built_.end()) continue;  // not part of the dataflow
    Metered m{int(id), plan_kind_name(node->kind), {}, -1, false};
    if (auto src = source_nodes_.find(node); src != source_nodes_.end()) {
      m.graph_nodes = src->second;
      for (size_t i = 0; i < sources_.size(); i++)
        if (sources_[i].node == src->second.front()) m.source = int(i);
    }
    if (auto partial = partial_node_.find(node); partial != partial_node_.end())
      m.graph_nodes.push_back(partial->second);
    m.graph_nodes.push_back(built->second);
    metered_.push_back(std::move(m));
  }
  graph_.watch(&stats_);
  stats_.nodes.assign(metered_.size(), NodeStats{});
  collect_node_stats();
}

void Dataflow::collect_node_stats() {
  stats_.nodes.resize(metered_.size());
  for (size_t i = 0; i < metered_.size(); i++) {
    const Metered& m = metered_[i];
    NodeStats& out = stats_.nodes[i];
    out.node = m.id;
    strlcpy(out.kind, m.kind.c_str(), kNodeKindLen);
    int exit = m.graph_nodes.back();
    const Graph::Meter& last = graph_.meter(exit);
    int64 busy_ns = 0;
    out.late_rows = out.bad_rows = 0;
    for (int n : m.graph_nodes) {
      const Graph::Meter& g = graph_.meter(n);
      busy_ns += g.busy_ns;
      out.late_rows += g.late_rows;
      out.bad_rows += g.bad_rows;
    }
    out.busy_us = busy_ns / 1000;
    out.state_bytes = m.state_bytes;
    out.state_keys = m.state_keys;
    if (m.sink) {
      out.rows_in = last.rows_in;
      out.rows_out = stats_.rows_out;
      out.watermark = graph_.watermark_in(exit);
    } else if (m.source >= 0) {
      out.rows_in = graph_.meter(m.graph_nodes.front()).rows_out;
      out.rows_out = last.rows_out;
      out.bad_rows += sources_[m.source].source->bad_rows();
      out.watermark = last.watermark_out;
    } else {
      // A two-phase aggregate's rows come into its first phase.
      out.rows_in = graph_.meter(m.graph_nodes.front()).rows_in;
      out.rows_out = last.rows_out;
      out.watermark = last.watermark_out;
    }
  }
}

}  // namespace arroyo
