#include "connectors/nexmark/generator.hpp"

#include <cmath>
#include <cstring>

namespace arroyo::nexmark {

namespace {

// Average idealized event sizes in bytes; `extra` pads events up to them.
constexpr int kAvgPersonBytes = 200;
constexpr int kAvgAuctionBytes = 500;
constexpr int kAvgBidBytes = 100;

// 1 in N events picks a random auction / seller / bidder; the others pick a hot one.
constexpr int kHotAuctionRatio = 2;
constexpr int kHotSellersRatio = 4;
constexpr int kHotBiddersRatio = 4;
// Hot auctions and people are the first of each batch of this many recent ones.
constexpr int kHotBatch = 100;

constexpr int kNumInFlightAuctions = 100;
constexpr int kNumActivePeople = 1000;
constexpr int kIdLead = 10;  // ids not yet created that random picks may still choose
constexpr int kNumCategories = 5;

// Half the bids come from one of the hot channels, the rest from channel-0 … channel-9999.
constexpr int kHotChannelsRatio = 2;
constexpr int kNumChannels = 10000;
const char* const kHotChannels[] = {"Google", "Facebook", "Baidu", "Apple"};
constexpr int kNumHotChannels = 4;

constexpr int kMinStringLength = 3;
constexpr int kPriceSteps = 4096;  // 2^12
constexpr size_t kPoolSize = size_t(1) << 16;

const char* const kStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
const char* const kCities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                               "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
const char* const kFirstNames[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                   "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
const char* const kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                  "Walton", "Smith",  "Jones",   "Noris"};

template <typename T, size_t N>
constexpr int count_of(T (&)[N]) {
  return int(N);
}

Text text_of(const char* s) { return Text{s, int(strlen(s))}; }

// splitmix64's finalizer: spreads a seed over all 64 bits.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint32_t reverse_bits(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; i++, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}

// Writes `v` as exactly four digits.
void four_digits(char* out, int v) {
  for (int i = 3; i >= 0; i--, v /= 10) out[i] = char('0' + v % 10);
}

}  // namespace

Generator::Generator(uint64_t seed, int64_t start_us, int64_t events_per_second)
    : seed_(mix(seed)),
      start_us_(start_us),
      events_per_second_(events_per_second),
      us_per_event_(1000000 % events_per_second == 0 ? 1000000 / events_per_second : 0) {
  Random r(mix(seed_ ^ 0x5eed5eed5eed5eedULL));
  letters_.resize(kPoolSize);
  spaced_.resize(kPoolSize);
  for (size_t i = 0; i < kPoolSize; i++) {
    letters_[i] = char('a' + r.below(26));
    spaced_[i] = r.below(13) == 0 ? ' ' : char('a' + r.below(26));
  }
  for (const char* name : kHotChannels) channels_.push_back({name, base_url(r)});
  for (int n = 0; n < kNumChannels; n++) {
    Channel c{"channel-" + std::to_string(n), base_url(r)};
    if (r.below(10) > 0)
      c.url += "&channel_id=" + std::to_string(std::llabs(int64_t(int32_t(reverse_bits(n)))));
    channels_.push_back(std::move(c));
  }
  for (const char* first : kFirstNames)
    for (const char* last : kLastNames) full_names_.push_back(std::string(first) + " " + last);
}

int64_t event_limit(int64_t start_us, int64_t events_per_second) {
  if (start_us >= kMaxEventTimeUs) return 0;
  // date_time(event) < kMaxEventTimeUs while event * 1e6 / rate < kMaxEventTimeUs - start_us.
  __int128 limit = (__int128(kMaxEventTimeUs) - start_us) * events_per_second / 1000000;
  // Capped well below INT64_MAX: an auction looks some events past its own (found by fuzzing).
  constexpr int64_t kMaxEvents = INT64_MAX / 2;
  return limit > kMaxEvents ? kMaxEvents : int64_t(limit);
}

int64_t Generator::date_time(int64_t event) const {
  int64_t offset_us = us_per_event_ > 0 ? event * us_per_event_
                                        : int64_t((__int128)event * 1000000 / events_per_second_);
  return start_us_ + offset_us / 1000 * 1000;
}

int64_t Generator::last_base0_person_id(int64_t event) {
  int64_t epoch = event / kTotalProportion, offset = event % kTotalProportion;
  if (offset >= kPersonProportion) offset = kPersonProportion - 1;
  return epoch * kPersonProportion + offset;
}

int64_t Generator::last_base0_auction_id(int64_t event) {
  int64_t epoch = event / kTotalProportion, offset = event % kTotalProportion;
  if (offset < kPersonProportion) {
    // A person: the last auction of the previous epoch.
    epoch--;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    // A bid: the last auction of this epoch.
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

Random Generator::event_random(int64_t event) const {
  return Random(seed_ ^ (uint64_t(event) * 0x9e3779b97f4a7c15ULL));
}

// A random person among the active ones, or slightly ahead of the last one.
int64_t Generator::next_base0_person_id(int64_t event, Random& r) const {
  int64_t people = last_base0_person_id(event) + 1;
  int64_t active = std::min<int64_t>(people, kNumActivePeople);
  return people - active + r.below(active + kIdLead);
}

// A random auction among those likely still open, or slightly ahead of the last one.
int64_t Generator::next_base0_auction_id(int64_t event, Random& r) const {
  int64_t max_id = last_base0_auction_id(event);
  int64_t min_id = std::max<int64_t>(max_id - kNumInFlightAuctions, 0);
  return min_id + r.below(max_id - min_id + 1 + kIdLead);
}

// Prices spread log-uniformly over 1 ... 1 000 000 (in cents: 100 ... 100 000 000), that is
// round(100 * 10^(6u)) for uniform u, computed without pow(): 10^(6u) is a table entry for the
// high bits of u times e^x for the small rest x, by its Taylor series (relative error < 1e-11).
int64_t Generator::next_price(Random& r) {
  static const std::vector<double> powers = [] {
    std::vector<double> t(kPriceSteps + 1);
    for (int i = 0; i <= kPriceSteps; i++) t[i] = std::pow(10.0, 6.0 * i / kPriceSteps);
    return t;
  }();
  // u = the top 53 bits of a random word / 2^53: its top 12 bits pick the table entry, the
  // other 41 the rest (exactly as splitting u * 4096 into integer and fraction would).
  uint64_t bits = r.next() >> 11;
  int step = int(bits >> 41);
  double x = double(bits & ((uint64_t(1) << 41) - 1)) * (6.0 * M_LN10 / kPriceSteps / 0x1.0p41);
  double rest = 1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0))));
  return int64_t(powers[step] * rest * 100.0 + 0.5);
}

Text Generator::next_string(Random& r, int max_len) const {
  int len = kMinStringLength + int(r.below(max_len - kMinStringLength));
  const char* s = spaced_.data() + r.below(int64_t(kPoolSize) - max_len);
  while (len > 0 && s[0] == ' ') s++, len--;
  while (len > 0 && s[len - 1] == ' ') len--;
  return Text{s, len};
}

Text Generator::next_extra(Random& r, int current_size, int average_size) const {
  if (current_size > average_size) return Text{letters_.data(), 0};
  int desired = average_size - current_size;
  int delta = int(std::lround(desired * 0.2));
  int size = desired - delta + (delta == 0 ? 0 : int(r.below(2 * delta)));
  return Text{letters_.data() + r.below(int64_t(kPoolSize) - size), size};
}

// A string built character by character (for the channel URLs, made once).
std::string Generator::pool_string(Random& r, int max_len, char special) const {
  int len = kMinStringLength + int(r.below(max_len - kMinStringLength));
  std::string s;
  while (len-- > 0) s += r.below(13) == 0 ? special : char('a' + r.below(26));
  return s;
}

std::string Generator::base_url(Random& r) const {
  return "https://www.nexmark.com/" + pool_string(r, 5, '_') + "/" + pool_string(r, 5, '_') + "/" +
         pool_string(r, 5, '_') + "/item.htm?query=1";
}

void Generator::person(int64_t event, Person& p) const {
  Random r = event_random(event);
  p.id = last_base0_person_id(event) + kFirstPersonId;
  int first = int(r.below(count_of(kFirstNames)));
  int last = int(r.below(count_of(kLastNames)));
  const std::string& name = full_names_[first * count_of(kLastNames) + last];
  p.name = Text{name.data(), int(name.size())};
  Text user = next_string(r, 7), domain = next_string(r, 5);
  char* e = p.email_buf;
  memcpy(e, user.data, user.len), e += user.len;
  *e++ = '@';
  memcpy(e, domain.data, domain.len), e += domain.len;
  memcpy(e, ".com", 4), e += 4;
  p.email_address = Text{p.email_buf, int(e - p.email_buf)};
  for (int i = 0; i < 4; i++) {
    if (i > 0) p.card_buf[i * 5 - 1] = ' ';
    four_digits(p.card_buf + i * 5, int(r.below(10000)));
  }
  p.credit_card = Text{p.card_buf, 19};
  p.city = text_of(kCities[r.below(count_of(kCities))]);
  p.state = text_of(kStates[r.below(count_of(kStates))]);
  int size = 8 + p.name.len + p.email_address.len + p.credit_card.len + p.city.len + p.state.len;
  p.extra = next_extra(r, size, kAvgPersonBytes);
  p.date_time = date_time(event);
}

void Generator::auction(int64_t event, Auction& a) const {
  Random r = event_random(event);
  a.id = last_base0_auction_id(event) + kFirstAuctionId;
  if (r.below(kHotSellersRatio) > 0)
    a.seller = last_base0_person_id(event) / kHotBatch * kHotBatch;
  else
    a.seller = next_base0_person_id(event, r);
  a.seller += kFirstPersonId;
  a.category = kFirstCategoryId + r.below(kNumCategories);
  a.initial_bid = next_price(r);
  a.date_time = date_time(event);
  // Auctions last, on average, as long as it takes to create kNumInFlightAuctions more.
  int64_t events_ahead = int64_t(kNumInFlightAuctions) * kTotalProportion / kAuctionProportion;
  int64_t horizon_ms = (date_time(event + events_ahead) - a.date_time) / 1000;
  a.expires = a.date_time + (1 + r.below(std::max<int64_t>(horizon_ms * 2, 1))) * 1000;
  a.item_name = next_string(r, 20);
  a.description = next_string(r, 100);
  a.reserve = a.initial_bid + next_price(r);
  int size = 8 + a.item_name.len + a.description.len + 8 + 8 + 8 + 8 + 8;
  a.extra = next_extra(r, size, kAvgAuctionBytes);
}

void Generator::bid(int64_t event, Bid& b) const {
  Random r = event_random(event);
  if (r.below(kHotAuctionRatio) > 0)
    b.auction = last_base0_auction_id(event) / kHotBatch * kHotBatch;
  else
    b.auction = next_base0_auction_id(event, r);
  b.auction += kFirstAuctionId;
  if (r.below(kHotBiddersRatio) > 0)
    // The second person of the batch, so hot bidders and hot sellers differ.
    b.bidder = last_base0_person_id(event) / kHotBatch * kHotBatch + 1;
  else
    b.bidder = next_base0_person_id(event, r);
  b.bidder += kFirstPersonId;
  b.price = next_price(r);
  if (r.below(kHotChannelsRatio) > 0)
    b.channel = int(r.below(kNumHotChannels));
  else
    b.channel = kNumHotChannels + int(r.below(kNumChannels));
  b.extra = next_extra(r, 8 + 8 + 8 + 8, kAvgBidBytes);
  b.date_time = date_time(event);
}

}  // namespace arroyo::nexmark
