// The dataflow graph: nodes with any number of inputs and outputs, and the edges between
// them. The graph owns the edges and what flows along them:
//
//  * rows: a node's output hands each batch to its consumers in turn (fan-out copies nothing,
//    except for a consumer that changes rows in place, which past a fan-out gets its own copy);
//  * watermarks: each input of a node keeps the last watermark it carried; the node's
//    watermark is the least over its inputs that are neither idle nor ended (over the idle
//    ones, the largest, when every live input is idle), and reaches the operator when it
//    advances. An idle input (its producer said idle()) stops holding the minimum back until
//    rows arrive on it again;
//  * the end: a node ends when all its inputs have ended;
//  * flushes and transaction hooks: once per node, upstream first (topological order), so a
//    diamond does not flush a node twice.
//
// A source node has no operator: the runtime pushes its rows into its output.
//
// The graph also meters each node for stream_operators: rows in and out, the last watermark
// it emitted, the wall time spent in its operator (excluding the nodes it fed, which run inside
// its calls), and the late and bad rows counted while it ran (see Graph::Meter).
#pragma once

#include "core/operator.hpp"

#include <memory>
#include <vector>

namespace arroyo {

class Graph {
 public:
  // What the graph measured of one node.
  struct Meter {
    int64 rows_in = 0, rows_out = 0;
    int64 busy_ns = 0;
    int64 late_rows = 0, bad_rows = 0;  // deltas of the watched counters while it ran
    TimestampTz watermark_out = DT_NOBEGIN;
  };
  // Charges the time until it goes out of scope (and the watched counters' changes) to node
  // `n`; nested scopes charge their node instead, for their duration.
  class Busy {
   public:
    Busy(Graph& graph, int n) : graph_(graph), prev_(graph.current_) { graph.switch_to(n); }
    ~Busy() { graph_.switch_to(prev_); }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    Graph& graph_;
    int prev_;
  };

  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Adds a node running `op` (nullptr for a source node); returns its index.
  int add(std::unique_ptr<Operator> op);
  // Feeds node `from`'s output into input `port` of node `to`. Every port of a node from 0 up
  // must be fed once before rows flow.
  void connect(int from, int to, int port);
  // Fixes the shape: checks every input is fed, orders the nodes upstream first and decides
  // which consumers past a fan-out get copies. Called once, after the last connect().
  void seal();

  int size() const { return int(nodes_.size()); }
  Operator* op(int node) const { return nodes_[node]->op.get(); }
  // The output of a node (a source node's rows are pushed into it).
  Output& output(int node) { return nodes_[node]->out; }
  int inputs(int node) const { return int(nodes_[node]->inputs.size()); }
  int consumers(int node) const { return int(nodes_[node]->edges.size()); }
  bool ended(int node) const { return nodes_[node]->ended; }
  // Node indexes, every node after all the nodes feeding it.
  const std::vector<int>& upstream_first() const { return order_; }

  // The counters whose changes are charged to the node running (EngineStats::late_rows and
  // bad_rows_engine); set before rows flow.
  void watch(const EngineStats* stats);
  const Meter& meter(int node) const { return nodes_[node]->meter; }
  // The last watermark node `n` was given (its inputs' combined).
  TimestampTz watermark_in(int node) const { return nodes_[node]->watermark; }

  // Calls flush() on every node that has not ended, upstream first.
  void flush();
  void begin_transaction();
  void end_transaction();

 private:
  struct Node;
  // An edge from a node's output to input `port` of node `to`.
  struct Edge {
    int to, port;
    std::unique_ptr<Batch> copy;  // for a consumer that modifies rows, past a fan-out
    bool copies = false;
  };
  // What one input of a node has carried so far.
  struct Input {
    bool fed = false;
    TimestampTz watermark = DT_NOBEGIN;
    bool idle = false, ended = false;
  };
  class NodeOutput : public Output {
   public:
    NodeOutput(Graph& graph, int node) : graph_(graph), node_(node) {}
    void push(Batch& rows) override;
    void watermark(TimestampTz wm) override;
    void idle() override;
    void end() override;

   private:
    Graph& graph_;
    int node_;
  };
  struct Node {
    Node(Graph& graph, int index, std::unique_ptr<Operator> o)
        : op(std::move(o)), out(graph, index) {}
    std::unique_ptr<Operator> op;
    NodeOutput out;
    std::vector<Edge> edges;             // where the output goes
    std::vector<Input> inputs;           // by port
    TimestampTz watermark = DT_NOBEGIN;  // the last one the operator was given
    bool idle = false, ended = false;
    Meter meter;
  };

  // Charges the time since the last switch to the node running, then runs node `n` (-1: none).
  void switch_to(int n);
  // Recomputes node `n`'s watermark, idleness and end after one of its inputs changed.
  void update(int n);

  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<int> order_;
  bool sealed_ = false;
  int current_ = -1;  // the node whose operator runs (metering)
  int64 switched_ns_ = 0;
  const EngineStats* watched_ = nullptr;
  int64 watched_late_ = 0, watched_bad_ = 0;
};

}  // namespace arroyo
