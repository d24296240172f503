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
