#include "worker/worker_group.hpp"

#include "pg/guard.hpp"
#include "pg/wait.hpp"
#include "worker/slots.hpp"

#include <csignal>

extern "C" {
#include "port/atomics.h"
#include "storage/proc.h"
#include "storage/spin.h"
}

namespace arroyo {

namespace {

constexpr uint32 kMagic = 0x41525750;  // "ARWP"
constexpr int kErrorLen = 1024;
constexpr int kStatusLen = 256;

// One worker's counters, as plain data.
struct StatsShared {
  int64 rows_in, rows_out, bad_rows, late_rows, bad_rows_engine, state_bytes;
  TimestampTz watermark;
  int32 nodes;
  NodeStats node[kSlotMaxNodes];
  char source_status[kStatusLen];
};

}  // namespace

struct MemberShared {
  pg_atomic_uint32 pid;  // 0 until the worker has attached
  PGPROC* proc;
  pg_atomic_uint32 ready;
  pg_atomic_uint32 fingerprint;
  pg_atomic_uint64 reported_seq;
  pg_atomic_uint32 outcome;  // EpochOutcome of reported_seq
  pg_atomic_uint32 done;
  pg_atomic_uint32 finished;
  slock_t stats_lock;
  StatsShared stats;
};

struct GroupShared {
  uint32 magic;
  int32 n;
  int32 pipeline_id;
  uint64 run_id;
  Size queue_size;
  Size queues_offset;
  pg_atomic_uint64 end_seq;  // the epoch the leader asks to end (0: none yet)
  pg_atomic_uint32 end_reason;
  pg_atomic_uint64 decided_seq;  // the last epoch the leader committed
  pg_atomic_uint32 failed;
  slock_t lock;
  char error[kErrorLen];
  MemberShared members[kMaxParallelism];
};

namespace {

Size queue_size_for(int n) {
  Size q = Size(4) * 1024 * 1024 / Size(std::max(1, n - 1));
  q = std::min<Size>(q, 512 * 1024);
  q = std::max<Size>(q, 64 * 1024);
  return MAXALIGN(q);
}

shm_mq* queue_at(GroupShared* g, int from, int to) {
  char* base = reinterpret_cast<char*>(g) + g->queues_offset;
  return reinterpret_cast<shm_mq*>(base + (Size(from) * Size(g->n) + Size(to)) * g->queue_size);
}

// Whether a follower is starting or running (not stopped, nor failed to start).
bool alive(BackgroundWorkerHandle* h) {
  pid_t pid;
  BgwHandleStatus s = GetBackgroundWorkerPid(h, &pid);
  return s == BGWH_STARTED || s == BGWH_NOT_YET_STARTED;
}

}  // namespace

WorkerGroup::WorkerGroup(dsm_segment* seg, int subtask)
    : seg_(seg),
      shared_(static_cast<GroupShared*>(dsm_segment_address(seg))),
      subtask_(subtask),
      n_(shared_->n),
      out_(size_t(n_), nullptr),
      in_(size_t(n_), nullptr),
      pending_(size_t(n_)) {}

WorkerGroup::~WorkerGroup() {
  // Detaching the segment detaches the queues (the peers see it) and unmaps it.
  if (seg_) dsm_detach(seg_);
}

std::unique_ptr<WorkerGroup> WorkerGroup::create(int n, int32 pipeline_id, uint64 run_id) {
  Size q = queue_size_for(n);
  Size offset = MAXALIGN(sizeof(GroupShared));
  Size total = offset + Size(n) * Size(n) * q;
  dsm_segment* seg = pg::call([&] {
    dsm_segment* s = dsm_create(total, 0);
    dsm_pin_mapping(s);
    return s;
  });
  auto* g = static_cast<GroupShared*>(dsm_segment_address(seg));
  memset(g, 0, offset);
  g->magic = kMagic;
  g->n = n;
  g->pipeline_id = pipeline_id;
  g->run_id = run_id;
  g->queue_size = q;
  g->queues_offset = offset;
  pg_atomic_init_u64(&g->end_seq, 0);
  pg_atomic_init_u32(&g->end_reason, 0);
  pg_atomic_init_u64(&g->decided_seq, 0);
  pg_atomic_init_u32(&g->failed, 0);
  SpinLockInit(&g->lock);
  for (int i = 0; i < kMaxParallelism; i++) {
    MemberShared& m = g->members[i];
    pg_atomic_init_u32(&m.pid, 0);
    pg_atomic_init_u32(&m.ready, 0);
    pg_atomic_init_u32(&m.fingerprint, 0);
    pg_atomic_init_u64(&m.reported_seq, 0);
    pg_atomic_init_u32(&m.outcome, 0);
    pg_atomic_init_u32(&m.done, 0);
    pg_atomic_init_u32(&m.finished, 0);
    SpinLockInit(&m.stats_lock);
  }
  pg::call([&] {
    for (int from = 0; from < n; from++)
      for (int to = 0; to < n; to++)
        if (from != to) shm_mq_create(queue_at(g, from, to), q);
  });
  std::unique_ptr<WorkerGroup> group(new WorkerGroup(seg, 0));
  pg_atomic_write_u32(&g->members[0].pid, uint32(MyProcPid));
  g->members[0].proc = MyProc;
  return group;
}

std::unique_ptr<WorkerGroup> WorkerGroup::attach(dsm_handle segment, int subtask) {
  dsm_segment* seg = pg::call([&] {
    dsm_segment* s = dsm_attach(segment);
    if (!s)
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("arroyo_stream: the pipeline's leader worker is gone")));
    dsm_pin_mapping(s);
    return s;
  });
  auto* g = static_cast<GroupShared*>(dsm_segment_address(seg));
  if (g->magic != kMagic || subtask <= 0 || subtask >= g->n) {
    pg::call([&] { dsm_detach(seg); });
    pg::fail(ERRCODE_INTERNAL_ERROR, "arroyo_stream: a worker attached to a wrong segment");
  }
  std::unique_ptr<WorkerGroup> group(new WorkerGroup(seg, subtask));
  g->members[subtask].proc = MyProc;
  pg_write_barrier();
  pg_atomic_write_u32(&g->members[subtask].pid, uint32(MyProcPid));
  return group;
}

dsm_handle WorkerGroup::handle() const { return dsm_segment_handle(seg_); }
uint64 WorkerGroup::run_id() const { return shared_->run_id; }
int32 WorkerGroup::pipeline_id() const { return shared_->pipeline_id; }

void WorkerGroup::attach_queues(const std::vector<BackgroundWorkerHandle*>& followers) {
  pg::call([&] {
    for (int w = 0; w < n_; w++) {
      if (w == subtask_) continue;
      BackgroundWorkerHandle* h =
          leader() && size_t(w - 1) < followers.size() ? followers[size_t(w - 1)] : nullptr;
      shm_mq* out = queue_at(shared_, subtask_, w);
      shm_mq_set_sender(out, MyProc);
      out_[size_t(w)] = shm_mq_attach(out, seg_, h);
      shm_mq* in = queue_at(shared_, w, subtask_);
      shm_mq_set_receiver(in, MyProc);
      in_[size_t(w)] = shm_mq_attach(in, seg_, h);
    }
  });
}

void WorkerGroup::send(int worker, std::string&& frame) {
  queued_bytes_ += frame.size();
  frames_sent_++;
  bytes_sent_ += int64(frame.size());
  pending_[size_t(worker)].push_back(std::move(frame));
  // Frames go out at once when the queue has room: the receiver works on them meanwhile.
  flush();
}

void WorkerGroup::flush() {
  for (int w = 0; w < n_; w++) {
    auto& q = pending_[size_t(w)];
    while (!q.empty()) {
      const std::string& f = q.front();
      shm_mq_result r =
          pg::call([&] { return shm_mq_send(out_[size_t(w)], f.size(), f.data(), true, true); });
      if (r == SHM_MQ_WOULD_BLOCK) break;
      if (r == SHM_MQ_DETACHED) gone(w);
      queued_bytes_ -= f.size();
      q.pop_front();
    }
  }
}

int WorkerGroup::receive(const std::function<void(int, char*, size_t)>& f, int max) {
  int got = 0, quiet = 0;
  // Round-robin over the other workers' queues until `max` frames or none has one.
  while (got < max && quiet < n_) {
    int w = next_in_;
    next_in_ = (next_in_ + 1) % n_;
    if (w == subtask_) {
      quiet++;
      continue;
    }
    Size len = 0;
    void* data = nullptr;
    shm_mq_result r = pg::call([&] { return shm_mq_receive(in_[size_t(w)], &len, &data, true); });
    if (r == SHM_MQ_WOULD_BLOCK) {
      quiet++;
      continue;
    }
    if (r == SHM_MQ_DETACHED) gone(w);
    quiet = 0;
    got++;
    f(w, static_cast<char*>(data), len);
  }
  return got;
}

void WorkerGroup::gone(int worker) const {
  check();  // the group's error, if one failed and said why
  if (worker == 0) throw GroupFailed("the pipeline's leader worker exited");
  throw GroupFailed("worker " + std::to_string(worker) + " of the pipeline exited", true);
}

void WorkerGroup::report_ready(uint32 fingerprint) {
  MemberShared& m = shared_->members[subtask_];
  pg_atomic_write_u32(&m.fingerprint, fingerprint);
  pg_write_barrier();
  pg_atomic_write_u32(&m.ready, 1);
  wake(0);
}

void WorkerGroup::wait_ready(uint32 fingerprint,
                             const std::vector<BackgroundWorkerHandle*>& followers) {
  while (true) {
    check(followers);
    bool all = true;
    for (int w = 1; w < n_; w++) {
      MemberShared& m = shared_->members[w];
      if (!pg_atomic_read_u32(&m.ready)) {
        all = false;
        continue;
      }
      pg_read_barrier();
      if (pg_atomic_read_u32(&m.fingerprint) != fingerprint)
        pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                 "arroyo_stream: worker " + std::to_string(w) +
                     " of the pipeline planned its query to another dataflow (was the query's "
                     "source or target altered while it started?)");
    }
    if (all) return;
    pg::call([&] { pg::wait_latch(100); });
  }
}

void WorkerGroup::request_end(uint64 seq, EpochEnd why) {
  if (pg_atomic_read_u64(&shared_->end_seq) >= seq) return;
  pg_atomic_write_u32(&shared_->end_reason, uint32(why));
  pg_write_barrier();
  pg_atomic_write_u64(&shared_->end_seq, seq);
  wake_all();
}

bool WorkerGroup::end_requested(uint64 seq) const {
  return pg_atomic_read_u64(&shared_->end_seq) >= seq;
}

EpochEnd WorkerGroup::end_reason() const {
  pg_read_barrier();
  return EpochEnd(pg_atomic_read_u32(&shared_->end_reason));
}

void WorkerGroup::report(uint64 seq, EpochOutcome outcome) {
  MemberShared& m = shared_->members[subtask_];
  pg_atomic_write_u32(&m.outcome, uint32(outcome));
  pg_write_barrier();
  pg_atomic_write_u64(&m.reported_seq, seq);
  wake(0);
}

std::vector<int> WorkerGroup::wait_reports(uint64 seq,
                                           const std::vector<BackgroundWorkerHandle*>& followers) {
  while (true) {
    check(followers);
    bool all = true;
    for (int w = 1; w < n_; w++)
      if (pg_atomic_read_u64(&shared_->members[w].reported_seq) < seq) all = false;
    if (all) break;
    pg::call([&] { pg::wait_latch(100); });
  }
  pg_read_barrier();
  std::vector<int> prepared;
  for (int w = 1; w < n_; w++)
    if (EpochOutcome(pg_atomic_read_u32(&shared_->members[w].outcome)) == EpochOutcome::Prepared)
      prepared.push_back(w);
  return prepared;
}

void WorkerGroup::decide(uint64 seq) {
  pg_atomic_write_u64(&shared_->decided_seq, seq);
  wake_all();
}

void WorkerGroup::wait_decided(uint64 seq) {
  while (pg_atomic_read_u64(&shared_->decided_seq) < seq) {
    check();
    pg::call([&] { pg::wait_latch(100); });
  }
}

void WorkerGroup::report_finished() {
  pg_write_barrier();
  pg_atomic_write_u32(&shared_->members[subtask_].finished, 1);
  wake(0);
}

void WorkerGroup::wait_finished(const std::vector<BackgroundWorkerHandle*>& followers) {
  for (int w = 1; w < n_; w++) {
    while (!pg_atomic_read_u32(&shared_->members[w].finished)) {
      if (size_t(w - 1) < followers.size() && !alive(followers[size_t(w - 1)])) break;
      pg::call([&] { pg::wait_latch(100); });
    }
  }
  pg_read_barrier();
}

void WorkerGroup::set_done(bool done) {
  MemberShared& m = shared_->members[subtask_];
  if (pg_atomic_read_u32(&m.done) == uint32(done)) return;
  pg_atomic_write_u32(&m.done, done);
  wake(0);
}

bool WorkerGroup::all_done() const {
  for (int w = 0; w < n_; w++)
    if (!pg_atomic_read_u32(&shared_->members[w].done)) return false;
  return true;
}

void WorkerGroup::fail(const std::string& error) {
  SpinLockAcquire(&shared_->lock);
  if (!pg_atomic_read_u32(&shared_->failed)) {
    strlcpy(shared_->error, error.c_str(), kErrorLen);
    pg_atomic_write_u32(&shared_->failed, 1);
  }
  SpinLockRelease(&shared_->lock);
  wake_all();
}

void WorkerGroup::check(const std::vector<BackgroundWorkerHandle*>& followers) const {
  if (pg_atomic_read_u32(&shared_->failed)) {
    std::string error;
    SpinLockAcquire(&shared_->lock);
    error = shared_->error;
    SpinLockRelease(&shared_->lock);
    throw GroupFailed(error);
  }
  if (!leader()) {
    pid_t pid = pid_t(pg_atomic_read_u32(&shared_->members[0].pid));
    if (pid == 0 || (kill(pid, 0) != 0 && errno == ESRCH))
      throw GroupFailed("the pipeline's leader worker exited");
    return;
  }
  for (size_t i = 0; i < followers.size(); i++)
    if (!alive(followers[i]))
      throw GroupFailed("worker " + std::to_string(i + 1) + " of the pipeline exited", true);
}

void WorkerGroup::publish(const EngineStats& stats) {
  MemberShared& m = shared_->members[subtask_];
  int nodes = int(std::min<size_t>(stats.nodes.size(), kSlotMaxNodes));
  SpinLockAcquire(&m.stats_lock);
  StatsShared& s = m.stats;
  s.rows_in = stats.rows_in;
  s.rows_out = stats.rows_out;
  s.bad_rows = stats.bad_rows;
  s.late_rows = stats.late_rows;
  s.bad_rows_engine = stats.bad_rows_engine;
  s.state_bytes = stats.state_bytes;
  s.watermark = stats.watermark;
  s.nodes = nodes;
  memcpy(s.node, stats.nodes.data(), sizeof(NodeStats) * size_t(nodes));
  strlcpy(s.source_status, stats.source_status.c_str(), kStatusLen);
  SpinLockRelease(&m.stats_lock);
}

std::vector<EngineStats> WorkerGroup::stats() const {
  std::vector<EngineStats> out(static_cast<size_t>(n_));
  StatsShared copy;
  for (int w = 0; w < n_; w++) {
    MemberShared& m = shared_->members[w];
    SpinLockAcquire(&m.stats_lock);
    memcpy(&copy, &m.stats, sizeof(copy));
    SpinLockRelease(&m.stats_lock);
    EngineStats& e = out[size_t(w)];
    e.rows_in = copy.rows_in;
    e.rows_out = copy.rows_out;
    e.bad_rows = copy.bad_rows;
    e.late_rows = copy.late_rows;
    e.bad_rows_engine = copy.bad_rows_engine;
    e.state_bytes = copy.state_bytes;
    e.watermark = copy.watermark;
    e.source_status = copy.source_status;
    e.nodes.assign(copy.node, copy.node + copy.nodes);
  }
  return out;
}

std::vector<pid_t> WorkerGroup::pids() const {
  std::vector<pid_t> out;
  for (int w = 0; w < n_; w++) out.push_back(pid_t(pg_atomic_read_u32(&shared_->members[w].pid)));
  return out;
}

void WorkerGroup::wake(int worker) const {
  PGPROC* proc = shared_->members[worker].proc;
  if (proc && pg_atomic_read_u32(&shared_->members[worker].pid)) SetLatch(&proc->procLatch);
}

void WorkerGroup::wake_all() const {
  for (int w = 0; w < n_; w++)
    if (w != subtask_) wake(w);
}

std::string prepared_gid_prefix(Oid dboid, int32 pipeline_id) {
  return "arroyo_stream:" + std::to_string(dboid) + ":" + std::to_string(pipeline_id) + ":";
}

std::string prepared_gid(Oid dboid, int32 pipeline_id, uint64 run_id, uint64 seq, int subtask) {
  return prepared_gid_prefix(dboid, pipeline_id) + std::to_string(run_id) + ":" +
         std::to_string(seq) + ":" + std::to_string(subtask);
}

}  // namespace arroyo
