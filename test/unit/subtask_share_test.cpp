// How splitting sources divide their work among a parallel pipeline's workers
// (src/core/subtask_share.hpp): Kafka partitions, impulse counters and Nexmark event numbers.
// Worker s of N takes the numbers i with i % N == s; the union over the workers is exactly
// parallelism 1's, each number in one worker, also when read in rate-limited steps and after a
// restart from a checkpointed position.
#include "core/subtask_share.hpp"

#include "connectors/nexmark/generator.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "unit.hpp"

using arroyo::SubtaskShare;
namespace nexmark = arroyo::nexmark;

namespace {

// The partitions of a topic of `partitions` that worker s of n reads, as "0,2,4".
std::string partitions_of(int s, int n, int partitions) {
  SubtaskShare share(s, n);
  std::string out;
  for (int p = 0; p < partitions; p++)
    if (share.owns(p)) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

}  // namespace

TEST(parallelism_1_takes_everything) {
  SubtaskShare one;
  CHECK_EQ(one.parallelism, int64_t(1));
  for (int64_t i : {int64_t(0), int64_t(1), int64_t(7), int64_t(1) << 40}) {
    CHECK(one.owns(i));
    CHECK_EQ(one.first_at_or_after(i), i);
    CHECK_EQ(one.count(i, i + 5), int64_t(5));
  }
  CHECK_EQ(one.count(10, 10), int64_t(0));
  CHECK_EQ(one.count(10, 3), int64_t(0));
  // A parallelism below 1 (no runtime info) counts as 1.
  CHECK_EQ(SubtaskShare(0, 0).parallelism, int64_t(1));
}

TEST(kafka_partitions_by_worker) {
  CHECK_EQ(partitions_of(0, 2, 8), std::string("0,2,4,6"));
  CHECK_EQ(partitions_of(1, 2, 8), std::string("1,3,5,7"));
  CHECK_EQ(partitions_of(0, 3, 8), std::string("0,3,6"));
  CHECK_EQ(partitions_of(1, 3, 8), std::string("1,4,7"));
  CHECK_EQ(partitions_of(2, 3, 8), std::string("2,5"));
  // More workers than partitions: the last ones read none (and end at once when bounded).
  CHECK_EQ(partitions_of(1, 4, 2), std::string("1"));
  CHECK_EQ(partitions_of(2, 4, 2), std::string(""));
  CHECK_EQ(SubtaskShare(3, 4).count(0, 2), int64_t(0));
  // Partitions added later go to the same rule: 8 -> 12 partitions at parallelism 3.
  CHECK_EQ(SubtaskShare(0, 3).count(8, 12), int64_t(1));  // 9
  CHECK_EQ(SubtaskShare(1, 3).count(8, 12), int64_t(1));  // 10
  CHECK_EQ(SubtaskShare(2, 3).count(8, 12), int64_t(2));  // 8, 11
}

TEST(first_and_count_agree_with_brute_force) {
  for (int n = 1; n <= 6; n++)
    for (int s = 0; s < n; s++) {
      SubtaskShare share(s, n);
      for (int64_t from = 0; from < 40; from++) {
        int64_t first = from;
        while (first % n != s) first++;
        CHECK_EQ(share.first_at_or_after(from), first);
        for (int64_t to = 0; to < 50; to++) {
          int64_t brute = 0;
          for (int64_t i = from; i < to; i++) brute += i % n == s;
          if (share.count(from, to) != brute) {
            CHECK_EQ(share.count(from, to), brute);
            return;
          }
        }
      }
    }
}

// The union over the workers of what each generates in rate-limited polls (counters due by
// each poll, as impulse and nexmark compute them), stopping at a message count, is
// 0 .. count-1, each once; and a worker restarted from a checkpointed position generates
// exactly what followed that position.
namespace {

// The numbers worker s of n generates from `next` on, in polls each allowing `step` more.
std::vector<int64_t> run_worker(int s, int n, int64_t next, int64_t message_count, int64_t step) {
  SubtaskShare share(s, n);
  std::vector<int64_t> out;
  int64_t run_first = next - s;  // as impulse's restore sets it
  for (int64_t due = 1; next < message_count; due += step) {
    int64_t k = share.count(next, std::min(run_first + due, message_count));
    for (int64_t i = 0; i < k; i++, next += n) out.push_back(next);
  }
  return out;
}

}  // namespace

TEST(union_of_workers_is_parallelism_1) {
  const int64_t message_count = 1003;
  for (int n = 1; n <= 5; n++) {
    std::vector<int> seen(message_count, 0);
    for (int s = 0; s < n; s++) {
      std::vector<int64_t> all =
          run_worker(s, n, SubtaskShare(s, n).first_at_or_after(0), message_count, 37);
      for (int64_t i : all) {
        CHECK(SubtaskShare(s, n).owns(i));
        seen[size_t(i)]++;
      }
      // Restart after its 100th number (the checkpoint holds the next one).
      if (all.size() > 100) {
        int64_t position = all[100];
        std::vector<int64_t> rest =
            run_worker(s, n, SubtaskShare(s, n).first_at_or_after(position), message_count, 11);
        CHECK(rest == std::vector<int64_t>(all.begin() + 100, all.end()));
      }
    }
    for (int64_t i = 0; i < message_count; i++)
      if (seen[size_t(i)] != 1) {
        CHECK_EQ(seen[size_t(i)], 1);
        return;
      }
  }
}

// Nexmark at parallelism 3: the bids the three workers generate (stepping through their own
// event numbers) are exactly parallelism 1's, with the same auctions, bidders, prices, times.
TEST(nexmark_bids_of_three_workers_are_parallelism_1s) {
  nexmark::Generator g(42, 0, nexmark::kDefaultEventsPerSecond);
  using Row = std::tuple<int64_t, int64_t, int64_t, int64_t, int, int64_t, std::string>;
  auto row = [&](int64_t e) {
    nexmark::Bid b;
    g.bid(e, b);
    return Row{e,
               b.auction,
               b.bidder,
               b.price,
               b.channel,
               b.date_time,
               std::string(b.extra.data, size_t(b.extra.len))};
  };
  const int64_t stop = 5000;
  std::set<Row> one, three;
  for (int64_t e = 0; e < stop; e++)
    if (nexmark::event_kind(e) == nexmark::EventKind::Bid) one.insert(row(e));
  size_t total = 0;
  for (int s = 0; s < 3; s++) {
    SubtaskShare share(s, 3);
    for (int64_t e = share.first_at_or_after(0); e < stop; e += 3)
      if (nexmark::event_kind(e) == nexmark::EventKind::Bid) {
        three.insert(row(e));
        total++;
      }
  }
  CHECK_EQ(one.size(), size_t(4600));
  CHECK_EQ(total, one.size());  // no event in two workers
  CHECK(one == three);
}

// Which workers' shares hold events of a kind at all (a worker with none ends or idles).
TEST(nexmark_kinds_in_a_share) {
  using nexmark::EventKind;
  // A parallelism prime to 50: every worker sees every kind.
  for (int n : {1, 3, 7})
    for (int s = 0; s < n; s++)
      for (EventKind k : {EventKind::Person, EventKind::Auction, EventKind::Bid})
        CHECK(nexmark::any_event_of_kind(s, n, k));
  // Parallelism 2 (and 4): persons are events 50k, all even: the odd workers have none.
  for (EventKind k : {EventKind::Person, EventKind::Auction, EventKind::Bid})
    CHECK(nexmark::any_event_of_kind(0, 2, k));
  CHECK(!nexmark::any_event_of_kind(1, 2, EventKind::Person));
  CHECK(nexmark::any_event_of_kind(1, 2, EventKind::Auction));  // 1, 3
  CHECK(nexmark::any_event_of_kind(1, 2, EventKind::Bid));
  CHECK(!nexmark::any_event_of_kind(3, 4, EventKind::Person));
  CHECK(nexmark::any_event_of_kind(3, 4, EventKind::Auction));  // 3
  CHECK(nexmark::any_event_of_kind(2, 4, EventKind::Person));   // 50
  // Parallelism 50: worker 0 sees only persons, 1-3 only auctions, 4-49 only bids.
  CHECK(nexmark::any_event_of_kind(0, 50, EventKind::Person));
  CHECK(!nexmark::any_event_of_kind(0, 50, EventKind::Bid));
  CHECK(!nexmark::any_event_of_kind(0, 50, EventKind::Auction));
  CHECK(nexmark::any_event_of_kind(2, 50, EventKind::Auction));
  CHECK(!nexmark::any_event_of_kind(2, 50, EventKind::Person));
  CHECK(nexmark::any_event_of_kind(49, 50, EventKind::Bid));
  CHECK(!nexmark::any_event_of_kind(49, 50, EventKind::Person));
  // Parallelism 25: worker 0 sees events 0, 25, 50, 75, ...: persons and bids, no auction.
  CHECK(nexmark::any_event_of_kind(0, 25, EventKind::Person));
  CHECK(nexmark::any_event_of_kind(0, 25, EventKind::Bid));
  CHECK(!nexmark::any_event_of_kind(0, 25, EventKind::Auction));
  CHECK(nexmark::any_event_of_kind(1, 25, EventKind::Auction));
}

// Rescaling impulse and nexmark (ShareCursor): the workers of parallelism N stopped at their own
// next numbers; the workers of N' resume from all their positions and emit every number not
// yet emitted, each once.
namespace {

using arroyo::EmittedSet;
using arroyo::EmittedSpan;
using arroyo::ShareCursor;
using arroyo::SharePosition;

// The numbers a cursor emits before reaching `stop` (or `limit` numbers).
std::vector<int64_t> walk(ShareCursor& c, int64_t stop, int64_t limit = INT64_MAX) {
  std::vector<int64_t> out;
  while (c.next() < stop && int64_t(out.size()) < limit) {
    out.push_back(c.next());
    c.advance();
  }
  return out;
}

// A small deterministic generator (the tests must replay).
struct Rng {
  uint64_t state;
  int64_t below(int64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return int64_t((state >> 33) % uint64_t(n));
  }
};

}  // namespace

TEST(rescale_two_workers_to_three) {
  // At 2 workers, worker 0 emitted 0, 2, .., 10 (next 12) and worker 1 1, 3, .., 21 (next 23).
  std::vector<SharePosition> old = {{2, 0, 12, {}}, {2, 1, 23, {}}};
  std::vector<std::vector<int64_t>> got;
  for (int s = 0; s < 3; s++) {
    ShareCursor c(SubtaskShare(s, 3));
    for (const auto& p : old) c.add(p);
    c.resume();
    CHECK_EQ(c.frontier(), int64_t(12));
    got.push_back(walk(c, 30));
  }
  CHECK(got[0] == std::vector<int64_t>({12, 18, 24, 27}));
  CHECK(got[1] == std::vector<int64_t>({16, 22, 25, 28}));
  CHECK(got[2] == std::vector<int64_t>({14, 20, 23, 26, 29}));
}

TEST(rescale_keeps_the_position_small) {
  // Scaling 4 -> 2: worker 0 of 2 takes the even numbers, those of old workers 0 and 2 (0..36
  // and 2..998 emitted): it jumps past what they emitted, and once past every old span its position
  // is its own span only.
  std::vector<SharePosition> old = {{4, 0, 40, {}}, {4, 1, 9, {}}, {4, 2, 1002, {}}, {4, 3, 7, {}}};
  ShareCursor c(SubtaskShare(0, 2));
  for (const auto& p : old) c.add(p);
  c.resume();
  CHECK_EQ(c.frontier(), int64_t(7));
  CHECK_EQ(c.next(), int64_t(40));
  std::vector<int64_t> first = walk(c, 60);
  CHECK(first == std::vector<int64_t>({40, 44, 48, 52, 56}));
  SharePosition p = c.position();
  CHECK_EQ(p.stride, int64_t(2));
  CHECK_EQ(p.residue, int64_t(0));
  CHECK_EQ(p.next, int64_t(60));
  // Old workers 1 and 3 (odd numbers) are worker 1's concern; the prefix 0..6 is behind.
  REQUIRE_EQ(p.spans.size(), size_t(1));
  CHECK(p.spans[0] == (EmittedSpan{4, 2, 1002}));
  walk(c, 1004);
  CHECK_EQ(c.next(), int64_t(1004));
  CHECK_EQ(c.skipped_spans(), size_t(0));
  CHECK(c.position().spans.empty());
  // The encoding round-trips; garbage is refused.
  SharePosition q;
  std::vector<int64_t> ints = SharePosition{3, 1, 10, {{2, 0, 8}}}.to_ints();
  CHECK(ints == std::vector<int64_t>({3, 1, 10, 1, 2, 0, 8}));
  CHECK(q.from_ints(ints));
  CHECK(q.to_ints() == ints);
  CHECK(!q.from_ints({3, 1, 10, 2, 2, 0, 8}));
  CHECK(!q.from_ints({3, 3, 10, 0}));
  CHECK(!q.from_ints({12, 1}));
}

TEST(emitted_set_prefix_and_next_free) {
  EmittedSet e;
  CHECK_EQ(e.prefix(), int64_t(0));
  e.add({3, 0, 9});
  e.add({3, 1, 4});
  CHECK_EQ(e.prefix(), int64_t(0));  // residue 2 missing
  e.add({3, 2, 20});
  CHECK_EQ(e.prefix(), int64_t(4));
  e.add({3, 1, 2});  // inside the span already there
  CHECK_EQ(e.spans().size(), size_t(3));
  CHECK(e.contains(6) && !e.contains(9) && e.contains(17) && !e.contains(4));
  CHECK_EQ(e.next_free(SubtaskShare(0, 1), 0), int64_t(4));
  CHECK_EQ(e.next_free(SubtaskShare(2, 3), 0), int64_t(20));
  CHECK_EQ(e.next_free(SubtaskShare(0, 2), 5), int64_t(10));
  e.compact(SubtaskShare(0, 2), 10);  // the prefix span (1, 0, 4) is behind 10 too
  CHECK(e.spans() == std::vector<EmittedSpan>({{3, 2, 20}}));
}

// Random sequences of rescales (and plain restarts) with random stops, checked against a
// brute-force count: every number is emitted exactly once, in order within each worker, and
// the positions stay small.
TEST(random_rescales_emit_every_number_once) {
  const int64_t limit = 4000;
  for (uint64_t seed = 1; seed <= 300; seed++) {
    Rng rng{seed};
    std::vector<int> seen(size_t(limit), 0);
    struct Entry {
      int worker;
      SharePosition pos;
    };
    std::vector<Entry> entries;
    int n = int(rng.below(5)) + 1;
    int generations = int(rng.below(6)) + 2;
    bool ok = true;
    size_t most_spans = 0;
    for (int gen = 0; gen <= generations && ok; gen++) {
      int old_n = n;
      if (gen > 0 && rng.below(4) != 0) n = int(rng.below(6)) + 1;
      bool rescale = gen > 0 && n != old_n;
      bool last = gen == generations;
      std::vector<Entry> next_entries;
      // A rate-limited run stops everywhere at about the same number; a free one anywhere.
      int64_t around = rng.below(limit);
      bool free_run = rng.below(2) == 0;
      for (int s = 0; s < n; s++) {
        ShareCursor c(SubtaskShare(s, n));
        bool restored = false;
        for (const Entry& e : entries)
          if (rescale || e.worker == s) {
            c.add(e.pos);
            restored = true;
          }
        if (restored) c.resume();
        int64_t stop = last       ? limit
                       : free_run ? rng.below(limit + 1)
                                  : std::min(limit, around + rng.below(3 * n + 1));
        int64_t before = -1;
        for (int64_t i : walk(c, stop)) {
          if (i <= before || !SubtaskShare(s, n).owns(i)) ok = false;
          before = i;
          seen[size_t(i)]++;
        }
        SharePosition p = c.position();
        most_spans = std::max(most_spans, p.spans.size());
        // A worker that emitted nothing and restored nothing writes no entry (impulse checks
        // whether next moved); otherwise its position replaces its old entry.
        if (restored || before >= 0) next_entries.push_back({s, p});
      }
      if (!rescale)  // workers that wrote nothing keep their old entries
        for (const Entry& e : entries) {
          bool rewritten = false;
          for (const Entry& x : next_entries) rewritten = rewritten || x.worker == e.worker;
          if (!rewritten) next_entries.push_back(e);
        }
      entries = std::move(next_entries);
    }
    for (int64_t i = 0; i < limit && ok; i++)
      if (seen[size_t(i)] != 1) {
        CHECK_EQ(seed * 0 + uint64_t(i), uint64_t(limit));  // shows the number
        CHECK_EQ(seen[size_t(i)], 1);
        ok = false;
      }
    CHECK(ok);
    CHECK(most_spans <= 21);  // one per stride and residue at most (strides 1..6)
    if (!ok) {
      CHECK_EQ(seed, uint64_t(0));
      return;
    }
  }
}

// The frontier (where a resumed run's rate counts from) is the least number nobody emitted.
TEST(frontier_is_the_least_unemitted_number) {
  for (uint64_t seed = 1; seed <= 200; seed++) {
    Rng rng{seed};
    int n = int(rng.below(5)) + 1;
    std::vector<SharePosition> old;
    std::vector<bool> emitted(400, false);
    for (int w = 0; w < n; w++) {
      int64_t next = SubtaskShare(w, n).first_at_or_after(rng.below(300));
      for (int64_t i = w; i < next; i += n) emitted[size_t(i)] = true;
      if (next > w || rng.below(2)) old.push_back({n, w, next, {}});
    }
    int64_t least = 0;
    while (emitted[size_t(least)]) least++;
    ShareCursor c(SubtaskShare(0, int(rng.below(4)) + 1));
    for (const auto& p : old) c.add(p);
    c.resume();
    CHECK_EQ(c.frontier(), least);
  }
}
