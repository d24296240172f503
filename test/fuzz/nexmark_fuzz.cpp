// libFuzzer target: the Nexmark generator (src/connectors/nexmark/generator.cpp) over the whole
// range of options CREATE accepts — seed, start_time (years 1 to 9999), event_rate — and
// event numbers up to the sequence's event_limit(), checked with UBSan for overflows: every
// event's times lie between the start and kMaxEventTimeUs plus an auction's lifetime.
#include "connectors/nexmark/generator.hpp"

#include <cstring>

using namespace arroyo::nexmark;

// PostgreSQL epoch microseconds of 0001-01-01 and 10000-01-01 (options.hpp's limits).
constexpr int64_t kMinStart = -INT64_C(63082281600) * 1000000;
constexpr int64_t kMaxStart = INT64_C(252455616000) * 1000000;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 32) return 0;
  uint64_t words[4];
  memcpy(words, data, sizeof(words));
  uint64_t seed = words[0] & INT64_MAX;  // a NonNegInt option
  int64_t start = kMinStart + int64_t(words[1] % uint64_t(kMaxStart - kMinStart));
  // event_rate: 0 means the default rate; otherwise any positive int64.
  int64_t rate = int64_t(words[2] & INT64_MAX);
  if (rate == 0) rate = kDefaultEventsPerSecond;
  int64_t limit = event_limit(start, rate);
  if (limit <= 0) return 0;
  int64_t event = int64_t(words[3] % uint64_t(limit));
  static Generator* g = nullptr;
  static uint64_t g_seed = 0;
  static int64_t g_start = 0, g_rate = 0;
  if (!g || g_seed != seed || g_start != start || g_rate != rate) {
    delete g;
    g = new Generator(seed, start, rate);
    g_seed = seed, g_start = start, g_rate = rate;
  }
  for (int64_t e : {event, limit - 1, int64_t(0)}) {
    int64_t t = g->date_time(e);
    if (t < start - 1000 || t >= kMaxEventTimeUs) __builtin_trap();
    switch (event_kind(e)) {
      case EventKind::Person: {
        Person p;
        g->person(e, p);
        break;
      }
      case EventKind::Auction: {
        Auction a;
        g->auction(e, a);
        if (a.expires < a.date_time) __builtin_trap();
        break;
      }
      case EventKind::Bid: {
        Bid b;
        g->bid(e, b);
        if (b.channel < 0 || size_t(b.channel) >= g->channels().size()) __builtin_trap();
        break;
      }
    }
  }
  return 0;
}
