// A pipeline that runs as N workers (`SET parallelism = N`): worker 0 is the pipeline's own
// worker (the leader: it holds the pipeline's slot, records its end, and decides and commits
// its epochs); workers 1..N-1 are started by it (followers). They share one DSM segment:
//
//  * the control block: which epoch the leader asks every worker to end, how each worker
//    ended it (committed, or prepared for two-phase commit), which epoch the leader has
//    committed, whether the group fails, and every worker's counters for the views;
//  * N × (N - 1) shm_mq queues, one per ordered pair of workers, carrying the exchanges'
//    frames (runtime/exchange.hpp). Sending never blocks: frames wait in the sender's memory
//    until the queue has room, and the worker stops reading its sources while too many wait
//    (backpressure), but always keeps receiving, so no cycle of full queues can deadlock.
#pragma once

#include "core/operator.hpp"
#include "runtime/exchange.hpp"

#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
}

namespace arroyo {

constexpr int kMaxParallelism = 32;

// What a follower needs to know, passed in bgw_extra.
struct FollowerArgs {
  Oid dboid;
  Oid owner;
  int32 pipeline_id;
  dsm_handle segment;
  int subtask;
};

// How a worker ended an epoch.
enum class EpochOutcome : uint32 { None = 0, Committed = 1, Prepared = 2 };

// Why the leader ends an epoch.
enum class EpochEnd : uint32 { Normal = 0, Stop = 1, Finish = 2 };

struct GroupShared;

// The group failed: `what` says why. `died`: a worker exited without recording an error (the
// leader then exits as a worker that died, so that the supervisor resumes the pipeline).
struct GroupFailed : std::runtime_error {
  explicit GroupFailed(const std::string& what, bool died = false)
      : std::runtime_error(what), died(died) {}
  bool died;
};

class WorkerGroup : public WorkerLinks {
 public:
  // The leader: creates the segment for `n` workers.
  static std::unique_ptr<WorkerGroup> create(int n, int32 pipeline_id, uint64 run_id);
  // A follower: attaches to the leader's segment.
  static std::unique_ptr<WorkerGroup> attach(dsm_handle segment, int subtask);
  ~WorkerGroup() override;

  int subtask() const { return subtask_; }
  int size() const { return n_; }
  bool leader() const { return subtask_ == 0; }
  dsm_handle handle() const;
  uint64 run_id() const;
  int32 pipeline_id() const;

  // Attaches this worker's queues (as the sender of its outgoing ones and the receiver of its
  // incoming ones). The leader passes its followers' handles, to notice one that never starts.
  void attach_queues(const std::vector<BackgroundWorkerHandle*>& followers = {});

  // --- exchange frames ---
  void send(int worker, std::string&& frame) override;
  void flush() override;
  int receive(const std::function<void(int, char*, size_t)>& f, int max) override;
  size_t queued_bytes() const override { return queued_bytes_; }
  // Frames, and their bytes, this worker has handed to the others so far.
  int64 frames_sent() const { return frames_sent_; }
  int64 bytes_sent() const { return bytes_sent_; }

  // --- start ---
  // A follower has built its dataflow (whose fingerprint hashes to `fingerprint`).
  void report_ready(uint32 fingerprint);
  // The leader waits until every follower is ready (or the group fails); fails if a follower
  // planned another dataflow.
  void wait_ready(uint32 fingerprint, const std::vector<BackgroundWorkerHandle*>& followers);

  // --- epochs ---
  // The leader asks every worker to end epoch `seq`.
  void request_end(uint64 seq, EpochEnd why);
  // Whether the leader asked to end epoch `seq`, and why.
  bool end_requested(uint64 seq) const;
  EpochEnd end_reason() const;
  // This worker has ended epoch `seq` that way.
  void report(uint64 seq, EpochOutcome outcome);
  // The leader: waits until every follower has reported epoch `seq`; returns the followers
  // that prepared it.
  std::vector<int> wait_reports(uint64 seq, const std::vector<BackgroundWorkerHandle*>& followers);
  // The leader has committed epoch `seq` (every part of it).
  void decide(uint64 seq);
  // A follower waits until the leader has committed epoch `seq`.
  void wait_decided(uint64 seq);

  // A follower's run is over and its last counters are published (it then frees its state).
  void report_finished();
  // The leader waits for that from every follower (or until one is gone).
  void wait_finished(const std::vector<BackgroundWorkerHandle*>& followers);

  // Whether this worker's dataflow has ended (the leader finishes the group when all have).
  void set_done(bool done);
  bool all_done() const;

  // --- failures ---
  // The group fails with `error` (the first one wins); every worker stops at its next check.
  void fail(const std::string& error);
  // Throws the group's error if it failed, or if the leader is gone (a follower), or a
  // follower died (the leader).
  void check(const std::vector<BackgroundWorkerHandle*>& followers = {}) const;

  // --- counters ---
  void publish(const EngineStats& stats);
  // Every worker's counters (index = subtask), as last published.
  std::vector<EngineStats> stats() const;
  // Every worker's process id (0 until it has attached).
  std::vector<pid_t> pids() const;
  // Wakes every other worker.
  void wake_all() const;

 private:
  WorkerGroup(dsm_segment* seg, int subtask);
  void wake(int worker) const;
  // A queue to or from `worker` was detached: it exited. Throws GroupFailed.
  [[noreturn]] void gone(int worker) const;

  dsm_segment* seg_;
  GroupShared* shared_;
  int subtask_, n_;
  std::vector<shm_mq_handle*> out_, in_;  // by worker (nullptr for this one)
  std::vector<std::deque<std::string>> pending_;
  size_t queued_bytes_ = 0;
  int64 frames_sent_ = 0, bytes_sent_ = 0;
  int next_in_ = 0;
};

// The name of a prepared transaction of worker `subtask` for epoch `seq` of run `run_id`.
std::string prepared_gid(Oid dboid, int32 pipeline_id, uint64 run_id, uint64 seq, int subtask);
// The prefix every prepared transaction of the pipeline's gid starts with.
std::string prepared_gid_prefix(Oid dboid, int32 pipeline_id);

}  // namespace arroyo
