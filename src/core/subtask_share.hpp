// How a splitting source divides numbered work among a pipeline's parallel workers (Connector::
// splits_source): worker `subtask` of `parallelism` takes the numbers i >= 0 with
// i % parallelism == subtask (Kafka partitions, impulse counters, Nexmark event numbers), so
// the union over the workers is exactly what one worker takes at parallelism 1, each number
// in one worker. PostgreSQL-free (test/unit/subtask_share_test.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace arroyo {

struct SubtaskShare {
  int64_t subtask = 0;      // 0 .. parallelism - 1
  int64_t parallelism = 1;  // >= 1

  SubtaskShare() = default;
  SubtaskShare(int64_t subtask_index, int64_t workers)
      : subtask(subtask_index), parallelism(workers < 1 ? 1 : workers) {}

  // Whether number i (>= 0) is this worker's.
  bool owns(int64_t i) const { return i % parallelism == subtask; }

  // The first of this worker's numbers at or after `from` (>= 0): `from` itself at
  // parallelism 1.
  int64_t first_at_or_after(int64_t from) const {
    int64_t r = from % parallelism;
    return r <= subtask ? from - r + subtask : from - r + parallelism + subtask;
  }

  // How many of this worker's numbers lie in [from, to) (0 <= from; none when to <= from).
  int64_t count(int64_t from, int64_t to) const {
    int64_t first = first_at_or_after(from);
    return to > first ? (to - first - 1) / parallelism + 1 : 0;
  }
};

// Rescaling a generator (impulse, nexmark): a pipeline whose workers emitted their shares at
// parallelism N resumes at N'. What was emitted is then no prefix of the numbers: worker w of N
// stopped at its own next_w. Every emitted set here is a union of spans {i >= 0 : i % stride ==
// residue, i < end}; a worker's own progress is one span (N, s, next), what it inherited from
// before a rescale a few more. The new worker s' of N' emits the numbers i % N' == s' that no
// span holds, in order, so over all new workers every number not yet emitted is emitted once.
struct EmittedSpan {
  int64_t stride = 1, residue = 0, end = 0;

  bool holds(int64_t i) const { return i < end && i % stride == residue; }
  bool operator==(const EmittedSpan& o) const {
    return stride == o.stride && residue == o.residue && end == o.end;
  }
};

// A union of spans, kept small: one span per (stride, residue), none inside another.
class EmittedSet {
 public:
  const std::vector<EmittedSpan>& spans() const { return spans_; }
  bool empty() const { return spans_.empty(); }
  void clear() { spans_.clear(); }
  // The end of the highest span: nothing at or above it is in the set.
  int64_t bound() const {
    int64_t b = 0;
    for (const EmittedSpan& sp : spans_) b = std::max(b, sp.end);
    return b;
  }

  void add(EmittedSpan span) {
    if (span.stride < 1 || span.residue < 0 || span.residue >= span.stride ||
        span.end <= span.residue)
      return;  // empty (or malformed: a caller checks what it decodes)
    for (EmittedSpan& sp : spans_)
      if (sp.stride == span.stride && sp.residue == span.residue) {
        sp.end = std::max(sp.end, span.end);
        return;
      }
    spans_.push_back(span);
  }

  bool contains(int64_t i) const {
    for (const EmittedSpan& sp : spans_)
      if (sp.holds(i)) return true;
    return false;
  }

  // A number below which every number is in the set: the largest of the prefix spans (stride
  // 1) and of the complete layouts (a stride with every residue: the least of their ends).
  int64_t prefix() const {
    int64_t p = 0;
    std::vector<const EmittedSpan*> of;
    for (const EmittedSpan& sp : spans_) {
      if (sp.stride == 1) p = std::max(p, sp.end);
      of.clear();
      for (const EmittedSpan& o : spans_)
        if (o.stride == sp.stride) of.push_back(&o);
      if (int64_t(of.size()) != sp.stride) continue;  // one span per residue: all there
      int64_t least = of[0]->end;
      for (const EmittedSpan* o : of) least = std::min(least, o->end);
      p = std::max(p, least);
    }
    return p;
  }

  // The first of `share`'s numbers at or after `from` (>= 0) that the set does not hold.
  int64_t next_free(const SubtaskShare& share, int64_t from) const {
    int64_t i = share.first_at_or_after(from);
    for (;;) {
      const EmittedSpan* in = nullptr;
      for (const EmittedSpan& sp : spans_)
        if (sp.holds(i)) {
          in = &sp;
          // A span whose stride divides the share's holds all of the share's numbers below
          // its end: jump past it.
          if (share.parallelism % sp.stride == 0) break;
        }
      if (!in) return i;
      i = share.parallelism % in->stride == 0 ? share.first_at_or_after(in->end)
                                              : i + share.parallelism;
    }
  }

  // Keeps only what still tells which of `share`'s numbers at or after `from` are in the set:
  // the complete layouts become one prefix span, spans below it or inside another go, and so
  // do spans that hold none of the share's numbers at or after `from`.
  void compact(const SubtaskShare& share, int64_t from) {
    int64_t p = prefix();
    if (p > 0) add({1, 0, p});
    std::vector<EmittedSpan> kept;
    for (size_t a = 0; a < spans_.size(); a++) {
      const EmittedSpan& sp = spans_[a];
      bool drop = sp.end <= from || (sp.stride > 1 && sp.end <= p) ||
                  (share.subtask - sp.residue) % std::gcd(share.parallelism, sp.stride) != 0;
      for (size_t b = 0; b < spans_.size() && !drop; b++) {
        const EmittedSpan& o = spans_[b];
        if (b == a || sp.stride % o.stride != 0 || sp.residue % o.stride != o.residue) continue;
        // o holds sp (the same span twice cannot happen: one per stride and residue)
        drop = sp.end <= o.end;
      }
      if (!drop) kept.push_back(sp);
    }
    spans_ = std::move(kept);
  }

 private:
  std::vector<EmittedSpan> spans_;
};

// What a generator's worker records in its checkpoint: its own progress (the numbers i with
// i % stride == residue below next are emitted: its share at the parallelism it ran with) and
// spans emitted before a rescale that still lie ahead of it.
struct SharePosition {
  int64_t stride = 1, residue = 0, next = 0;
  std::vector<EmittedSpan> spans;

  // As integers: stride, residue, next, the span count, then stride, residue, end per span.
  std::vector<int64_t> to_ints() const {
    std::vector<int64_t> v = {stride, residue, next, int64_t(spans.size())};
    for (const EmittedSpan& sp : spans) v.insert(v.end(), {sp.stride, sp.residue, sp.end});
    return v;
  }
  // Reads to_ints()' integers; false when they are not such a list.
  bool from_ints(const std::vector<int64_t>& v) {
    if (v.size() < 4 || v[3] < 0 || v.size() != 4 + 3 * size_t(v[3])) return false;
    stride = v[0];
    residue = v[1];
    next = v[2];
    if (stride < 1 || residue < 0 || residue >= stride || next < 0) return false;
    spans.clear();
    for (size_t i = 4; i < v.size(); i += 3) {
      EmittedSpan sp{v[i], v[i + 1], v[i + 2]};
      if (sp.stride < 1 || sp.residue < 0 || sp.residue >= sp.stride || sp.end < 0) return false;
      spans.push_back(sp);
    }
    return true;
  }
};

// A generator worker's walk through its share: next() is the next number to emit. Fresh, it
// starts at the share's first number. Restored, it is given the positions of the checkpoint
// (add: its own entry, or after a rescale every old worker's), then resume() finds the first
// number of the share no position covers; advance() steps on, skipping emitted numbers.
class ShareCursor {
 public:
  explicit ShareCursor(SubtaskShare share = {})
      : share_(share), next_(share.first_at_or_after(0)) {}

  const SubtaskShare& share() const { return share_; }
  int64_t next() const { return next_; }
  // The least number nobody had emitted when resume() was called (0 before): the number the
  // rate of a resumed run counts from.
  int64_t frontier() const { return frontier_; }
  // How many emitted spans ahead of next() the walk still skips.
  size_t skipped_spans() const { return done_.spans().size(); }

  void add(const SharePosition& p) {
    done_.add({p.stride, p.residue, p.next});
    for (const EmittedSpan& sp : p.spans) done_.add(sp);
  }

  void resume() {
    int64_t p = done_.prefix();
    frontier_ = done_.next_free(SubtaskShare(0, 1), p);
    next_ = done_.next_free(share_, p);
    settle();
  }

  void advance() {
    next_ += share_.parallelism;
    if (done_.empty()) return;
    if (next_ >= bound_) {
      done_.clear();
      return;
    }
    next_ = done_.next_free(share_, next_);
  }

  // What the checkpoint records now (compacting the spans still ahead).
  SharePosition position() {
    settle();
    SharePosition p;
    p.stride = share_.parallelism;
    p.residue = share_.subtask;
    p.next = next_;
    p.spans = done_.spans();
    return p;
  }

 private:
  void settle() {
    done_.compact(share_, next_);
    bound_ = done_.bound();
    if (next_ >= bound_) done_.clear();
  }

  SubtaskShare share_;
  int64_t next_ = 0;
  int64_t frontier_ = 0;
  int64_t bound_ = 0;  // done_.bound() at the last settle()
  EmittedSet done_;    // emitted numbers that may still lie ahead of next_
};

}  // namespace arroyo
