// The Nexmark generator (src/connectors/nexmark/generator.cpp): the 1:3:46 rule, the id rules,
// event times, the sequence's end, the exact first events of seed 42 (the same rows
// sql/nexmark.sql expects), determinism, and the ranges every field keeps to.
#include "connectors/nexmark/generator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "unit.hpp"

using namespace arroyo::nexmark;

namespace {

std::string str(Text t) { return std::string(t.data, size_t(t.len)); }

// 2026-01-01 00:00 UTC in PostgreSQL's microseconds (9497 days after 2000-01-01).
constexpr int64_t k2026 = INT64_C(9497) * 86400 * 1000000;

bool lowercase_or_space(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || (c >= 'a' && c <= 'z'); });
}

// The bounds next_extra() keeps to: desired ± 20 % (rounded), the upper bound exclusive.
void check_extra_len(int len, int fixed_size, int average) {
  int desired = average - fixed_size;
  int delta = int(std::lround(desired * 0.2));
  if (len < desired - delta || len > desired + std::max(delta - 1, 0))
    unit::fail(__FILE__, __LINE__,
               "extra of " + std::to_string(len) + " bytes, desired " + std::to_string(desired));
}

}  // namespace

TEST(event_kinds_follow_1_3_46) {
  int counts[3] = {0, 0, 0};
  for (int64_t e = 0; e < 5000; e++) counts[int(event_kind(e))]++;
  CHECK_EQ(counts[int(EventKind::Person)], 100);
  CHECK_EQ(counts[int(EventKind::Auction)], 300);
  CHECK_EQ(counts[int(EventKind::Bid)], 4600);
  CHECK(event_kind(0) == EventKind::Person);
  CHECK(event_kind(1) == EventKind::Auction);
  CHECK(event_kind(3) == EventKind::Auction);
  CHECK(event_kind(4) == EventKind::Bid);
  CHECK(event_kind(49) == EventKind::Bid);
  CHECK(event_kind(50) == EventKind::Person);
}

TEST(id_rules) {
  CHECK_EQ(Generator::last_base0_person_id(0), 0);
  CHECK_EQ(Generator::last_base0_person_id(49), 0);
  CHECK_EQ(Generator::last_base0_person_id(50), 1);
  CHECK_EQ(Generator::last_base0_person_id(5000), 100);
  // Before the first auction there is none (-1); a person's event sees the previous epoch's
  // last auction, a bid's this epoch's.
  CHECK_EQ(Generator::last_base0_auction_id(0), -1);
  CHECK_EQ(Generator::last_base0_auction_id(1), 0);
  CHECK_EQ(Generator::last_base0_auction_id(3), 2);
  CHECK_EQ(Generator::last_base0_auction_id(4), 2);
  CHECK_EQ(Generator::last_base0_auction_id(50), 2);
  CHECK_EQ(Generator::last_base0_auction_id(51), 3);
  CHECK_EQ(Generator::last_base0_auction_id(99), 5);

  Generator g(7, 0, kDefaultEventsPerSecond);
  Person p;
  Auction a;
  g.person(0, p);
  CHECK_EQ(p.id, kFirstPersonId);
  g.person(150, p);
  CHECK_EQ(p.id, kFirstPersonId + 3);
  g.auction(1, a);
  CHECK_EQ(a.id, kFirstAuctionId);
  g.auction(53, a);
  CHECK_EQ(a.id, kFirstAuctionId + 5);
}

TEST(event_times) {
  Generator g(1, 0, 10000);  // 100 µs per event, times cut to milliseconds
  CHECK_EQ(g.date_time(0), 0);
  CHECK_EQ(g.date_time(1), 0);
  CHECK_EQ(g.date_time(10), 1000);
  CHECK_EQ(g.date_time(49), 4000);
  CHECK_EQ(g.date_time(50), 5000);
  Generator thirds(1, 0, 3);  // 1 000 000 / 3 µs per event: no exact step
  CHECK_EQ(thirds.date_time(1), 333000);
  CHECK_EQ(thirds.date_time(2), 666000);
  CHECK_EQ(thirds.date_time(3), 1000000);
  Generator offset(1, 123456789, 1);  // the start is kept exactly; offsets are cut
  CHECK_EQ(offset.date_time(0), 123456789);
  CHECK_EQ(offset.date_time(2), 123456789 + 2000000);
}

TEST(sequence_end) {
  CHECK_EQ(event_limit(kMaxEventTimeUs, 1), 0);
  CHECK_EQ(event_limit(0, 1000000), kMaxEventTimeUs);
  CHECK_EQ(event_limit(0, 1), kMaxEventTimeUs / 1000000);
  CHECK_EQ(event_limit(-kMaxEventTimeUs, INT64_MAX), INT64_MAX / 2);
  for (int64_t rate : {int64_t(1), int64_t(3), kDefaultEventsPerSecond, int64_t(7777777)}) {
    Generator g(1, k2026, rate);
    int64_t limit = event_limit(k2026, rate);
    CHECK(g.date_time(limit - 1) < kMaxEventTimeUs);
  }
}

TEST(first_events_of_seed_42) {
  Generator g(42, k2026, kDefaultEventsPerSecond);
  Person p;
  g.person(0, p);
  CHECK_EQ(p.id, 1000);
  CHECK_EQ(str(p.name), "John Jones");
  CHECK_EQ(str(p.email_address), "hyshp@shzz.com");
  CHECK_EQ(str(p.credit_card), "8197 4171 0638 7123");
  CHECK_EQ(str(p.city), "Seattle");
  CHECK_EQ(str(p.state), "OR");
  CHECK_EQ(p.date_time, k2026);
  CHECK_EQ(p.extra.len, 129);
  CHECK_EQ(str(p.extra).substr(0, 12), "gurcpnkkaczd");
  g.person(50, p);
  CHECK_EQ(p.id, 1001);
  CHECK_EQ(str(p.name), "Saul Bartels");
  CHECK_EQ(str(p.email_address), "zom@hora.com");
  CHECK_EQ(p.date_time, k2026 + 5000);

  Auction a;
  g.auction(1, a);
  CHECK_EQ(a.id, 1000);
  CHECK_EQ(str(a.item_name), "mknic");
  CHECK_EQ(str(a.description), "enarccmmpy");
  CHECK_EQ(a.initial_bid, 1019);
  CHECK_EQ(a.reserve, 37807512);
  CHECK_EQ(a.date_time, k2026);
  CHECK_EQ(a.expires, k2026 + 221000);
  CHECK_EQ(a.seller, 1007);
  CHECK_EQ(a.category, 10);
  CHECK_EQ(a.extra.len, 473);

  // Among the first epoch's bids: auction 1002 by 1001 for 10103218 on channel-1407.
  int found = 0;
  for (int64_t e = 4; e < 50; e++) {
    Bid b;
    g.bid(e, b);
    if (b.price != 10103218) continue;
    found++;
    CHECK_EQ(b.auction, 1002);
    CHECK_EQ(b.bidder, 1001);
    REQUIRE(b.channel >= 0 && size_t(b.channel) < g.channels().size());
    const Channel& c = g.channels()[size_t(b.channel)];
    CHECK_EQ(c.name, "channel-1407");
    CHECK_EQ(c.url, "https://www.nexmark.com/gnvy/imgf/mmq/item.htm?query=1&channel_id=23068672");
    CHECK_EQ(b.extra.len, 63);
    CHECK_EQ(str(b.extra).substr(0, 12), "cjmnadqtnxix");
    CHECK_EQ(b.date_time, k2026);
  }
  CHECK_EQ(found, 1);
}

TEST(channels) {
  Generator g(42, 0, kDefaultEventsPerSecond);
  const std::vector<Channel>& c = g.channels();
  REQUIRE_EQ(c.size(), size_t(10004));
  CHECK_EQ(c[0].name, "Google");
  CHECK_EQ(c[1].name, "Facebook");
  CHECK_EQ(c[2].name, "Baidu");
  CHECK_EQ(c[3].name, "Apple");
  CHECK_EQ(c[2].url, "https://www.nexmark.com/kgs/yia/whil/item.htm?query=1");
  CHECK_EQ(c[4].name, "channel-0");
  CHECK_EQ(c[10003].name, "channel-9999");
  int with_id = 0;
  for (const Channel& ch : c) {
    CHECK_EQ(ch.url.rfind("https://www.nexmark.com/", 0), size_t(0));
    CHECK(ch.url.find("/item.htm?query=1") != std::string::npos);
    with_id += ch.url.find("&channel_id=") != std::string::npos;
  }
  // About 9 in 10 of the numbered channels carry an id.
  CHECK(with_id > 8700 && with_id < 9300);
}

TEST(events_are_a_function_of_seed_and_number) {
  Generator g1(5, k2026, 1000), g2(5, k2026, 1000), other(6, k2026, 1000);
  Bid later;
  g1.bid(777, later);  // generating other events first changes nothing
  for (int64_t e = 700; e < 800; e++)
    if (event_kind(e) == EventKind::Bid) {
      Bid b;
      g1.bid(e, b);
    }
  Bid again, fresh, different;
  g1.bid(777, again);
  g2.bid(777, fresh);
  other.bid(777, different);
  CHECK_EQ(again.price, later.price);
  CHECK_EQ(fresh.price, later.price);
  CHECK_EQ(fresh.auction, later.auction);
  CHECK_EQ(fresh.bidder, later.bidder);
  CHECK_EQ(fresh.channel, later.channel);
  CHECK_EQ(str(fresh.extra), str(later.extra));
  CHECK(different.price != later.price || str(different.extra) != str(later.extra));
}

TEST(fields_stay_in_their_ranges) {
  static const std::set<std::string> kCities = {
      "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
      "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
  static const std::set<std::string> kStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  Generator g(99, k2026, 1000);
  for (int64_t e = 0; e < 20000; e++) {
    switch (event_kind(e)) {
      case EventKind::Person: {
        Person p;
        g.person(e, p);
        std::string email = str(p.email_address), card = str(p.credit_card);
        size_t at = email.find('@');
        CHECK(at != std::string::npos && at > 0 && email.size() > at + 5);
        CHECK_EQ(email.substr(email.size() - 4), ".com");
        CHECK(lowercase_or_space(email.substr(0, at)));
        REQUIRE_EQ(card.size(), size_t(19));
        for (size_t i = 0; i < 19; i++)
          CHECK(i % 5 == 4 ? card[i] == ' ' : (card[i] >= '0' && card[i] <= '9'));
        CHECK(kCities.count(str(p.city)));
        CHECK(kStates.count(str(p.state)));
        int fixed = 8 + p.name.len + p.email_address.len + 19 + p.city.len + p.state.len;
        check_extra_len(p.extra.len, fixed, 200);
        CHECK(lowercase_or_space(str(p.extra)));
        break;
      }
      case EventKind::Auction: {
        Auction a;
        g.auction(e, a);
        CHECK(a.initial_bid >= 100 && a.initial_bid <= 100000000);
        CHECK(a.reserve >= a.initial_bid + 100);
        CHECK(a.expires > a.date_time);
        CHECK(a.category >= 10 && a.category <= 14);
        CHECK(a.seller >= kFirstPersonId &&
              a.seller <= kFirstPersonId + Generator::last_base0_person_id(e) + 10);
        CHECK(a.item_name.len >= 1 && a.item_name.len <= 19);
        CHECK(lowercase_or_space(str(a.item_name)));
        CHECK(str(a.item_name).front() != ' ' && str(a.item_name).back() != ' ');
        check_extra_len(a.extra.len, 8 + a.item_name.len + a.description.len + 40, 500);
        break;
      }
      case EventKind::Bid: {
        Bid b;
        g.bid(e, b);
        CHECK(b.price >= 100 && b.price <= 100000000);
        CHECK(b.auction >= kFirstAuctionId &&
              b.auction <= kFirstAuctionId + Generator::last_base0_auction_id(e) + 10);
        CHECK(b.bidder >= kFirstPersonId &&
              b.bidder <= kFirstPersonId + Generator::last_base0_person_id(e) + 10);
        CHECK(b.channel >= 0 && b.channel < 10004);
        check_extra_len(b.extra.len, 32, 100);
        CHECK_EQ(b.date_time, g.date_time(e));
        break;
      }
    }
  }
}
