#include "runtime/graph.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <time.h>

namespace arroyo {

int Graph::add(std::unique_ptr<Operator> op) {
  if (sealed_) throw std::logic_error("dataflow graph: node added after seal()");
  int index = int(nodes_.size());
  nodes_.push_back(std::make_unique<Node>(*this, index, std::move(op)));
  Node& node = *nodes_.back();
  if (node.op) node.op->set_output(&node.out);
  return index;
}

void Graph::connect(int from, int to, int port) {
  if (sealed_ || from == to || port < 0 || !nodes_[to]->op)
    throw std::logic_error("dataflow graph: bad edge " + std::to_string(from) + " -> " +
                           std::to_string(to) + ":" + std::to_string(port));
  std::vector<Input>& inputs = nodes_[to]->inputs;
  if (int(inputs.size()) <= port) inputs.resize(port + 1);
  if (inputs[port].fed)
    throw std::logic_error("dataflow graph: input " + std::to_string(port) + " of node " +
                           std::to_string(to) + " fed twice");
  inputs[port].fed = true;
  nodes_[from]->edges.push_back(Edge{to, port, nullptr, false});
}

void Graph::seal() {
  // Kahn's algorithm, taking ready nodes lowest index first: the order only depends on the
  // shape, and a cycle (which the planner cannot make) is refused.
  std::vector<int> waiting(nodes_.size());
  for (size_t n = 0; n < nodes_.size(); n++) {
    for (const Input& in : nodes_[n]->inputs)
      if (!in.fed)
        throw std::logic_error("dataflow graph: node " + std::to_string(n) +
                               " has an input nothing feeds");
    waiting[n] = int(nodes_[n]->inputs.size());
  }
  std::vector<int> ready;
  for (size_t n = 0; n < nodes_.size(); n++)
    if (!waiting[n]) ready.push_back(int(n));
  order_.clear();
  while (!ready.empty()) {
    auto lowest = std::min_element(ready.begin(), ready.end());
    int n = *lowest;
    ready.erase(lowest);
    order_.push_back(n);
    for (const Edge& e : nodes_[n]->edges)
      if (--waiting[e.to] == 0) ready.push_back(e.to);
  }
  if (order_.size() != nodes_.size()) throw std::logic_error("dataflow graph: a cycle");
  for (auto& node : nodes_)
    if (node->edges.size() > 1)
      for (Edge& e : node->edges) e.copies = nodes_[e.to]->op->modifies_input();
  sealed_ = true;
}

namespace {

int64 monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

void Graph::watch(const EngineStats* stats) {
  watched_ = stats;
  watched_late_ = stats->late_rows;
  watched_bad_ = stats->bad_rows_engine;
}

void Graph::switch_to(int n) {
  int64 now = monotonic_ns();
  if (current_ >= 0) {
    Meter& m = nodes_[current_]->meter;
    m.busy_ns += now - switched_ns_;
    if (watched_) {
      m.late_rows += watched_->late_rows - watched_late_;
      m.bad_rows += watched_->bad_rows_engine - watched_bad_;
    }
  }
  if (watched_) {
    watched_late_ = watched_->late_rows;
    watched_bad_ = watched_->bad_rows_engine;
  }
  switched_ns_ = now;
  current_ = n;
}

void Graph::NodeOutput::push(Batch& rows) {
  graph_.nodes_[node_]->meter.rows_out += rows.size();
  for (Edge& e : graph_.nodes_[node_]->edges) {
    Node& to = *graph_.nodes_[e.to];
    to.meter.rows_in += rows.size();
    Input& in = to.inputs[e.port];
    if (in.idle) {
      // Rows on an idle input: it holds the watermark back again, and the node is not idle.
      in.idle = false;
      to.idle = false;
    }
    Batch* batch = &rows;
    if (e.copies) {
      if (!e.copy || e.copy->capacity() < rows.size() || e.copy->ncols() != rows.ncols())
        e.copy = std::make_unique<Batch>(rows.ncols(), std::max(rows.size(), rows.capacity()));
      e.copy->clear();
      e.copy->append_rows(rows, 0, rows.size());
      batch = e.copy.get();
    }
    Busy busy(graph_, e.to);
    to.op->push(e.port, *batch);
  }
}

void Graph::NodeOutput::watermark(TimestampTz wm) {
  Meter& self = graph_.nodes_[node_]->meter;
  self.watermark_out = std::max(self.watermark_out, wm);
  for (Edge& e : graph_.nodes_[node_]->edges) {
    Input& in = graph_.nodes_[e.to]->inputs[e.port];
    if (wm <= in.watermark) continue;
    in.watermark = wm;
    Busy busy(graph_, e.to);
    graph_.nodes_[e.to]->op->input_watermark(e.port, wm);
    graph_.update(e.to);
  }
}

void Graph::NodeOutput::idle() {
  for (Edge& e : graph_.nodes_[node_]->edges) {
    Input& in = graph_.nodes_[e.to]->inputs[e.port];
    if (in.idle) continue;
    in.idle = true;
    Busy busy(graph_, e.to);
    graph_.update(e.to);
  }
}

void Graph::NodeOutput::end() {
  for (Edge& e : graph_.nodes_[node_]->edges) {
    Input& in = graph_.nodes_[e.to]->inputs[e.port];
    if (in.ended) continue;
    in.ended = true;
    Busy busy(graph_, e.to);
    graph_.nodes_[e.to]->op->input_watermark(e.port, DT_NOEND);
    graph_.update(e.to);
  }
}

void Graph::update(int n) {
  Node& node = *nodes_[n];
  if (node.ended) return;
  bool live = false, all_idle = true;
  TimestampTz least = DT_NOEND, largest_idle = DT_NOBEGIN;
  for (const Input& in : node.inputs) {
    if (in.ended) continue;
    live = true;
    if (in.idle) {
      largest_idle = std::max(largest_idle, in.watermark);
    } else {
      all_idle = false;
      least = std::min(least, in.watermark);
    }
  }
  if (!live) {
    node.ended = true;
    node.op->end();
    return;
  }
  TimestampTz wm = all_idle ? largest_idle : least;
  if (wm != DT_NOEND && wm > node.watermark) {
    node.watermark = wm;
    node.op->watermark(wm);
  }
  if (all_idle && !node.idle) {
    node.idle = true;
    node.op->idle();
  }
}

void Graph::flush() {
  for (int n : order_)
    if (nodes_[n]->op && !nodes_[n]->ended) {
      Busy busy(*this, n);
      nodes_[n]->op->flush();
    }
}

void Graph::begin_transaction() {
  for (int n : order_)
    if (nodes_[n]->op) {
      Busy busy(*this, n);
      nodes_[n]->op->begin_transaction();
    }
}

void Graph::end_transaction() {
  for (int n : order_)
    if (nodes_[n]->op) {
      Busy busy(*this, n);
      nodes_[n]->op->end_transaction();
    }
}

}  // namespace arroyo
