// The Nexmark event generator (persons, auctions and bids), following the rules of the Beam /
// Flink NexmarkGenerator: the 1:3:46 proportion, ids derived from the event number, hot
// auctions, bidders, sellers and channels, prices, auction lengths, and strings of the
// configured average sizes. PostgreSQL-free.
//
// Every event is a pure function of (seed, event number): event i has its own random stream,
// seeded from both, so any reader of the sequence (a bid table, an auction table) sees the same
// events, and a reader can skip the events it does not emit without generating them. Strings
// are cut from pools of random text built once per seed, so generating an event allocates
// nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arroyo::nexmark {

// The standard proportions: of every 50 events, 1 is a person, 3 are auctions, 46 are bids.
constexpr int kPersonProportion = 1;
constexpr int kAuctionProportion = 3;
constexpr int kBidProportion = 46;
constexpr int kTotalProportion = kPersonProportion + kAuctionProportion + kBidProportion;

// Ids start here, so small runs still find joins.
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;

// Event time advances at this many events per second when the source runs as fast as possible
// (Nexmark's default first event rate).
constexpr int64_t kDefaultEventsPerSecond = 10000;

// Event times stay below this (about year 111000, far inside PostgreSQL's timestamp range,
// with room for auctions' expiry times after it): a sequence ends at its last event before it.
constexpr int64_t kMaxEventTimeUs = int64_t(1) << 61;

// How many events, from event 0, have times below kMaxEventTimeUs for a sequence starting at
// `start_us` (>= -kMaxEventTimeUs) with `events_per_second` (>= 1) events per second.
int64_t event_limit(int64_t start_us, int64_t events_per_second);

enum class EventKind { Person, Auction, Bid };

// The kind of event number `event` (by the 1:3:46 rule).
inline EventKind event_kind(int64_t event) {
  int64_t r = event % kTotalProportion;
  if (r < kPersonProportion) return EventKind::Person;
  if (r < kPersonProportion + kAuctionProportion) return EventKind::Auction;
  return EventKind::Bid;
}

// Whether the events first, first + step, first + 2 * step, ... (a parallel worker's share:
// step = parallelism) include any of `kind`; the kinds repeat every kTotalProportion events,
// so the first kTotalProportion of them tell. False when step shares a factor with 50 that
// keeps the share off the kind's positions: at step 2 the odd events hold no person (persons
// are events 50k), at step 50 worker 0 sees only persons.
inline bool any_event_of_kind(int64_t first, int64_t step, EventKind kind) {
  for (int64_t j = 0; j < kTotalProportion; j++)
    if (event_kind(first + j * step) == kind) return true;
  return false;
}

// A string owned by the generator's pools or by the event being built.
struct Text {
  const char* data = nullptr;
  int len = 0;
};

struct Person {
  int64_t id;
  Text name, email_address, credit_card, city, state, extra;
  int64_t date_time;  // microseconds, on the caller's time scale (start_time + offset)
  char email_buf[24], card_buf[20];
};

struct Auction {
  int64_t id;
  Text item_name, description;
  int64_t initial_bid, reserve;
  int64_t date_time, expires;
  int64_t seller, category;
  Text extra;
};

struct Bid {
  int64_t auction, bidder, price;
  int channel;  // index into Generator::channels()
  Text extra;
  int64_t date_time;
};

// One bid channel and the URL its bids carry.
struct Channel {
  std::string name, url;
};

// A small, fast pseudo-random stream (wyrand): deterministic for its seed.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0xa0761d6478bd642fULL;
    __uint128_t m = (__uint128_t)state_ * (state_ ^ 0xe7037ed1a0b428dbULL);
    return uint64_t(m >> 64) ^ uint64_t(m);
  }
  // Uniform in [0, n), for n >= 1.
  int64_t below(int64_t n) { return int64_t(((__uint128_t)next() * uint64_t(n)) >> 64); }
  // Uniform in [0, 1).
  double unit() { return double(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

class Generator {
 public:
  // `start_us`: event time of event 0; event time advances `events_per_second` per second.
  Generator(uint64_t seed, int64_t start_us, int64_t events_per_second);

  // Event time of event number `event` (the generator's timestamps have millisecond precision).
  int64_t date_time(int64_t event) const;

  void person(int64_t event, Person& out) const;
  void auction(int64_t event, Auction& out) const;
  void bid(int64_t event, Bid& out) const;

  // 4 hot channels, then channel-0 … channel-9999.
  const std::vector<Channel>& channels() const { return channels_; }

  // Id rules, as in the reference generator (base 0, before kFirst*Id is added).
  static int64_t last_base0_person_id(int64_t event);
  static int64_t last_base0_auction_id(int64_t event);

 private:
  Random event_random(int64_t event) const;
  int64_t next_base0_person_id(int64_t event, Random& r) const;
  int64_t next_base0_auction_id(int64_t event, Random& r) const;
  static int64_t next_price(Random& r);
  // A string of 3 to max_len - 1 characters, letters with about one space in 13, trimmed.
  Text next_string(Random& r, int max_len) const;
  // Letters making currentSize + length average `average_size` (± 20 %).
  Text next_extra(Random& r, int current_size, int average_size) const;
  std::string pool_string(Random& r, int max_len, char special) const;
  std::string base_url(Random& r) const;

  uint64_t seed_;
  int64_t start_us_, events_per_second_;
  int64_t us_per_event_;  // 1 000 000 / events_per_second_ when exact (no division per event)
  std::string letters_;   // random lowercase letters
  std::string spaced_;    // random lowercase letters, about one in 13 a space
  std::vector<Channel> channels_;
  std::vector<std::string> full_names_;
};

}  // namespace arroyo::nexmark
