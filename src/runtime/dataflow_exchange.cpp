// The Dataflow's side of running as several workers: exchanges in the graph, frames from the
// other workers into it, and epoch barriers (see runtime/exchange.hpp).
#include "operators/union_all.hpp"
#include "operators/window_partial.hpp"
#include "pg/guard.hpp"
#include "runtime/dataflow.hpp"

namespace arroyo {

namespace {

// Frames handled per round at most, so that sources and barriers get their turn.
constexpr int kFramesPerRound = 256;

}  // namespace

int Dataflow::exchanged(int producer, TupleDesc desc, std::vector<int> keys) {
  if (!links_) return producer;
  int id = int(exchanges_.size());
  auto op = std::make_unique<ExchangeOperator>(id, desc, std::move(keys), subtask_, parallelism_,
                                               *links_);
  ExchangeRun run;
  run.op = op.get();
  run.desc = desc;
  // Not numbered among the operators: an exchange keeps no state, and a checkpoint's node
  // numbers stay those of the same pipeline with one worker.
  int send = graph_.add(std::move(op));
  graph_.connect(producer, send, 0);
  run.merge = graph_.add(std::make_unique<UnionAllOperator>());
  graph_.connect(send, run.merge, 0);
  int port = 1;
  for (int w = 0; w < parallelism_; w++) {
    if (w == subtask_) {
      run.remote.push_back(-1);
      continue;
    }
    int node = graph_.add(nullptr);
    graph_.connect(node, run.merge, port++);
    run.remote.push_back(node);
  }
  run.batch = std::make_unique<Batch>(desc->natts);
  run.barrier_seen.assign(size_t(parallelism_), -1);
  exchanges_.push_back(std::move(run));
  return exchanges_.back().merge;
}

namespace {

// Drops rows; passes watermarks, idleness and the end on.
class DiscardRows : public Operator {
 public:
  void push(int, Batch&) override {}
};

}  // namespace

int Dataflow::gathered_output(int op_node, bool gathered) {
  if (!links_ || !gathered || subtask_ == 0) return op_node;
  int discard = graph_.add(std::make_unique<DiscardRows>());
  graph_.connect(op_node, discard, 0);
  return discard;
}

int Dataflow::receive_frames() {
  return links_->receive([&](int from, char* data, size_t len) { on_frame(from, data, len); },
                         kFramesPerRound);
}

void Dataflow::on_frame(int from, char* data, size_t len) {
  FrameHeader h;
  if (len < sizeof(h)) pg::fail(ERRCODE_INTERNAL_ERROR, "arroyo_stream: a frame is cut short");
  memcpy(&h, data, sizeof(h));
  if (h.exchange >= exchanges_.size() || from < 0 || from >= parallelism_ || from == subtask_)
    pg::fail(ERRCODE_INTERNAL_ERROR, "arroyo_stream: a frame names no exchange of this worker");
  ExchangeRun& x = exchanges_[h.exchange];
  int node = x.remote[size_t(from)];
  if (FrameKind(h.kind) != FrameKind::Barrier) stats_.frames_in++;
  Output& out = graph_.output(node);
  switch (FrameKind(h.kind)) {
    case FrameKind::Rows: {
      // The rows' values point into a copy of the frame in the round's memory.
      size_t body = len - sizeof(h);
      char* copy = static_cast<char*>(
          pg::call([&] { return MemoryContextAlloc(round_memory_, std::max<size_t>(body, 1)); }));
      memcpy(copy, data + sizeof(h), body);
      if (int(h.rows) > x.batch->capacity())
        x.batch = std::make_unique<Batch>(x.desc->natts, int(h.rows));
      x.batch->clear();
      x.op->codec().decode(copy, body, h.rows, *x.batch);
      Graph::Busy busy(graph_, node);
      out.push(*x.batch);
      x.batch->clear();
      break;
    }
    case FrameKind::Watermark: {
      Graph::Busy busy(graph_, node);
      out.watermark(h.value);
      break;
    }
    case FrameKind::Idle: {
      Graph::Busy busy(graph_, node);
      out.idle();
      break;
    }
    case FrameKind::End: {
      Graph::Busy busy(graph_, node);
      out.end();
      break;
    }
    case FrameKind::Barrier: {
      // Each worker's barriers come in order on its queue: the last one it sent on this
      // exchange says how far it has ended epochs. (After the startup barrier 0 no commit
      // separates it from epoch 1, so a worker may already send epoch 1's barrier on an
      // exchange while another still ends epoch 0.)
      int64& seen = x.barrier_seen[size_t(from)];
      if (h.value != seen + 1)
        pg::fail(ERRCODE_INTERNAL_ERROR,
                 "arroyo_stream: worker " + std::to_string(from) + " sent the barrier of epoch " +
                     std::to_string(h.value) + " after that of epoch " + std::to_string(seen));
      seen = h.value;
      break;
    }
    default: pg::fail(ERRCODE_INTERNAL_ERROR, "arroyo_stream: a frame of an unknown kind");
  }
}

void Dataflow::end_unshared_sources() {
  for (auto& run : sources_) {
    if (!run.unshared || run.ended) continue;
    run.ended = true;
    Graph::Busy busy(graph_, run.node);
    graph_.output(run.node).end();
  }
  links_->flush();
}

void Dataflow::begin_barrier(int64 seq, bool flush_stages) {
  in_barrier_ = true;
  barrier_seq_ = seq;
  barrier_stage_ = 0;
  barrier_sent_ = false;
  flush_stages_ = flush_stages;
}

bool Dataflow::barrier_round() {
  while (barrier_stage_ < barrier_order_.size()) {
    ExchangeRun& x = exchanges_[size_t(barrier_order_[barrier_stage_])];
    if (!barrier_sent_) {
      if (x.partial) {  // its partial states belong to the epoch
        Graph::Busy busy(graph_, x.partial_node);
        x.partial->drain();
      }
      x.op->send_barrier(barrier_seq_);
      barrier_sent_ = true;
    }
    receive_frames();
    links_->flush();
    bool all = true;
    for (int w = 0; w < parallelism_; w++)
      if (w != subtask_ && x.barrier_seen[size_t(w)] < barrier_seq_) all = false;
    if (!all) break;
    barrier_stage_++;
    barrier_sent_ = false;
    // What the stage delivered may make the next stage's operators emit (a stop's flush).
    if (flush_stages_) graph_.flush();
  }
  collect_node_stats();
  reset_round_memory();
  if (barrier_stage_ < barrier_order_.size()) return false;
  // Done only once every frame of the epoch has left this worker: another worker may still be
  // waiting for this one's last barrier, queued here behind a full queue to it.
  links_->flush();
  if (links_->queued_bytes() > 0) return false;
  in_barrier_ = false;
  return true;
}

}  // namespace arroyo
