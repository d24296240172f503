// nexmark: the Nexmark benchmark's event generator as a source. One foreign table per event kind
// (option event_type 'person' | 'auction' | 'bid'); every table reads the same deterministic
// event sequence (seed, start_time, rate) and emits only the events of its kind. In a parallel
// pipeline worker s of N generates the events whose number i has i % N == s, each with the
// same contents and time as at parallelism 1 and when parallelism 1 would: the union over the
// workers is parallelism 1's sequence. Rescaled (a checkpoint of N workers resumed by N'), each
// new worker generates its share of the events no old worker generated (ShareCursor), the rate
// counting from the least of them.
#include "connectors/generator_position.hpp"
#include "core/connector.hpp"
#include "core/event_time.hpp"
#include "core/subtask_share.hpp"
#include "connectors/nexmark/generator.hpp"

#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <algorithm>
#include <cstring>

namespace arroyo {

namespace {

using nexmark::EventKind;
using nexmark::Generator;

constexpr const char* kWhere = "connector \"nexmark\" tables";

// The value kinds a Nexmark column can hold.
enum class FieldType { Int8, Text, Time };

// One standard column of an event kind.
struct FieldSpec {
  const char* name;
  FieldType type;
};

// The standard columns, in the order the Nexmark queries declare them; a field's index is its
// position here.
const std::vector<FieldSpec>& fields_of(EventKind kind) {
  static const std::vector<FieldSpec> person = {{"id", FieldType::Int8},
                                                {"name", FieldType::Text},
                                                {"email_address", FieldType::Text},
                                                {"credit_card", FieldType::Text},
                                                {"city", FieldType::Text},
                                                {"state", FieldType::Text},
                                                {"date_time", FieldType::Time},
                                                {"extra", FieldType::Text}};
  static const std::vector<FieldSpec> auction = {
      {"id", FieldType::Int8},          {"item_name", FieldType::Text},
      {"description", FieldType::Text}, {"initial_bid", FieldType::Int8},
      {"reserve", FieldType::Int8},     {"date_time", FieldType::Time},
      {"expires", FieldType::Time},     {"seller", FieldType::Int8},
      {"category", FieldType::Int8},    {"extra", FieldType::Text}};
  static const std::vector<FieldSpec> bid = {
      {"auction", FieldType::Int8}, {"bidder", FieldType::Int8}, {"price", FieldType::Int8},
      {"channel", FieldType::Text}, {"url", FieldType::Text},    {"date_time", FieldType::Time},
      {"extra", FieldType::Text}};
  switch (kind) {
    case EventKind::Person: return person;
    case EventKind::Auction: return auction;
    case EventKind::Bid: return bid;
  }
  return bid;
}

EventKind kind_of(const TableSpec& spec) {
  std::string t = get_option(spec.table_options, "event_type").value_or("bid");
  return t == "person" ? EventKind::Person : t == "auction" ? EventKind::Auction : EventKind::Bid;
}

const char* kind_name(EventKind kind) {
  return kind == EventKind::Person ? "person" : kind == EventKind::Auction ? "auction" : "bid";
}

int field_index(EventKind kind, const std::string& column) {
  const auto& fields = fields_of(kind);
  for (size_t i = 0; i < fields.size(); i++)
    if (column == fields[i].name) return int(i);
  return -1;
}

bool type_fits(FieldType t, Oid type, int32 typmod) {
  switch (t) {
    case FieldType::Int8: return type == INT8OID;
    case FieldType::Text: return type == TEXTOID || (type == VARCHAROID && typmod < 0);
    case FieldType::Time: return type == TIMESTAMPTZOID || type == TIMESTAMPOID;
  }
  return false;
}

const char* type_name(FieldType t) {
  switch (t) {
    case FieldType::Int8: return "bigint";
    case FieldType::Text: return "text";
    case FieldType::Time: return "timestamptz or timestamp";
  }
  return "?";
}

// Hands out text values from large palloc'd blocks of the current (per-round) memory context:
// one allocation per block, not per value. Runs inside pg::call.
class TextArena {
 public:
  void reset() { cur_ = end_ = nullptr; }
  Datum text(const char* data, int len) {
    size_t size = MAXALIGN(VARHDRSZ + len);
    if (size_t(end_ - cur_) < size) {
      size_t block = std::max(kBlockSize, size);
      cur_ = (char*)palloc(block);
      end_ = cur_ + block;
    }
    char* v = cur_;
    cur_ += size;
    SET_VARSIZE(v, VARHDRSZ + len);
    memcpy(VARDATA(v), data, len);
    return PointerGetDatum(v);
  }

 private:
  static constexpr size_t kBlockSize = 64 * 1024;
  char* cur_ = nullptr;
  char* end_ = nullptr;
};

// Prebuilt text values (the channel names and URLs), owned by the source, in C++ memory that
// lives as long as the source.
class TextPool {
 public:
  void build(const std::vector<std::string>& strings) {
    std::vector<size_t> offsets;
    size_t words = 0;
    for (const std::string& s : strings) {
      offsets.push_back(words);
      words += (VARHDRSZ + s.size() + sizeof(uint64) - 1) / sizeof(uint64);
    }
    buffer_.assign(words, 0);
    datums_.clear();
    for (size_t i = 0; i < strings.size(); i++) {
      char* v = (char*)(buffer_.data() + offsets[i]);
      SET_VARSIZE(v, VARHDRSZ + strings[i].size());
      memcpy(VARDATA(v), strings[i].data(), strings[i].size());
      datums_.push_back(PointerGetDatum(v));
    }
  }
  Datum operator[](size_t i) const { return datums_[i]; }

 private:
  std::vector<uint64> buffer_;
  std::vector<Datum> datums_;
};

class NexmarkSource : public Source {
 public:
  explicit NexmarkSource(const TableSpec& spec) : kind_(kind_of(spec)) {
    event_rate_ = option_int(spec.table_options, "event_rate", 0);
    message_count_ = option_int(spec.table_options, "message_count", -1);
    start_time_ = option_timestamptz(spec.table_options, "start_time");
    seed_ = option_int(spec.table_options, "seed", 0);
    for (const auto& c : spec.columns) {
      int f = field_index(kind_, c.name);
      if (f >= 0 && !c.generated) columns_.push_back({f, c.attnum - 1});
    }
  }

  void open(const RuntimeInfo& info) override {
    run_start_ = GetCurrentTimestamp();
    share_ = SubtaskShare(info.subtask_index, info.parallelism);
    cursor_ = ShareCursor(share_);
    has_kind_ = nexmark::any_event_of_kind(cursor_.next(), share_.parallelism, kind_);
    start_ = start_time_ ? *start_time_ : info.pipeline_start;
    generator_ = std::make_unique<Generator>(
        uint64(seed_), start_, event_rate_ > 0 ? event_rate_ : nexmark::kDefaultEventsPerSecond);
    set_event_limit();
    if (kind_ == EventKind::Bid) {
      std::vector<std::string> names, urls;
      for (const auto& c : generator_->channels()) {
        names.push_back(c.name);
        urls.push_back(c.url);
      }
      channel_names_.build(names);
      channel_urls_.build(urls);
    }
  }

  // Position: the events generated (this worker's share below its next event number, and after
  // a rescale the old workers' events still ahead of it) and the sequence's start time (events
  // are a pure function of seed, number and start).
  void checkpoint(StateWriter& w) override {
    settle();
    if (cursor_.next() == checkpointed_) return;
    w.put(0, "", encode_generator_position(cursor_.position(), start_));
    checkpointed_ = cursor_.next();
  }

  // Resuming a checkpoint of `old_parallelism` workers: restore() gets every old worker's
  // position; the first checkpoint writes this worker's whole position.
  void rescale(int old_parallelism) override {
    rescaled_from_ = old_parallelism;
    checkpointed_ = -1;
    restored_ = true;
  }

  void restore(const StateEntry& entry) override {
    TimestampTz start = 0;
    SharePosition p = decode_generator_position(
        entry, rescaled_from_ ? rescaled_from_ : share_.parallelism,
        rescaled_from_ ? entry.worker : share_.subtask, &start, "the nexmark source's position");
    cursor_.add(p);
    restored_ = true;
    if (start != start_) {
      start_ = start;
      generator_ = std::make_unique<Generator>(
          uint64(seed_), start_, event_rate_ > 0 ? event_rate_ : nexmark::kDefaultEventsPerSecond);
      set_event_limit();
    }
  }

  bool has_share() const override { return has_kind_; }

  PollResult poll(Batch& out) override {
    settle();
    int64 first = cursor_.next();
    if (message_count_ >= 0 && first >= message_count_) return PollResult::ended();
    if (first >= event_limit_) return PollResult::ended();  // event times would leave the range
    if (!has_kind_) {
      // This worker's share holds no event of the table's kind (N sharing a factor with 50:
      // at N = 2 the odd worker has no person, persons being events 50k): it ends where the
      // sequence is bounded, else stays idle (has_share: its watermark goes idle at once).
      if (message_count_ >= 0) return PollResult::ended();
      return PollResult::idle();
    }
    // Event numbers [first, stop) may be generated now.
    int64 stop = std::min(message_count_ >= 0 ? message_count_ : PG_INT64_MAX, event_limit_);
    if (event_rate_ > 0) {
      TimestampTz now = GetCurrentTimestamp();
      int64 due = int64((__int128)(now - run_start_) * event_rate_ / USECS_PER_SEC) + 1;
      if (due <= first)
        return PollResult::idle(run_start_ + int64((__int128)first * USECS_PER_SEC / event_rate_));
      stop = std::min(stop, due);
    }
    arena_.reset();
    pg::call([&] { fill(out, stop); });
    if (!out.empty() || event_rate_ == 0) return PollResult::data();
    first = cursor_.next();
    if (message_count_ >= 0 && first >= message_count_) return PollResult::ended();
    // None of the events due so far was of this table's kind: sleep until the next one is due
    // (has_kind_: one of this worker's next 50 events is of the kind).
    int64 next = first;
    while (nexmark::event_kind(next) != kind_) next += share_.parallelism;
    return PollResult::idle(run_start_ + int64((__int128)next * USECS_PER_SEC / event_rate_));
  }

 private:
  struct Column {
    int field;   // index into fields_of(kind_)
    int column;  // 0-based position in the row
  };

  // Generates this worker's events next_, next_ + N, ... below `stop` until the batch is full,
  // keeping those of this table's kind. Runs inside pg::call: plain values only.
  void fill(Batch& out, int64 stop) {
    while (cursor_.next() < stop && !out.full()) {
      int64 event = cursor_.next();
      cursor_.advance();
      if (nexmark::event_kind(event) != kind_) continue;
      switch (kind_) {
        case EventKind::Person: add_person(out, event); break;
        case EventKind::Auction: add_auction(out, event); break;
        case EventKind::Bid: add_bid(out, event); break;
      }
    }
  }

  Datum text(const nexmark::Text& t) { return arena_.text(t.data, t.len); }

  void add_bid(Batch& out, int64 event) {
    nexmark::Bid b;
    generator_->bid(event, b);
    int row = out.append(b.date_time);
    Datum* v = out.values(row);
    bool* n = out.nulls(row);
    for (const Column& c : columns_) {
      n[c.column] = false;
      switch (c.field) {
        case 0: v[c.column] = Int64GetDatum(b.auction); break;
        case 1: v[c.column] = Int64GetDatum(b.bidder); break;
        case 2: v[c.column] = Int64GetDatum(b.price); break;
        case 3: v[c.column] = channel_names_[b.channel]; break;
        case 4: v[c.column] = channel_urls_[b.channel]; break;
        case 5: v[c.column] = TimestampTzGetDatum(b.date_time); break;
        case 6: v[c.column] = text(b.extra); break;
      }
    }
  }

  void add_auction(Batch& out, int64 event) {
    nexmark::Auction a;
    generator_->auction(event, a);
    int row = out.append(a.date_time);
    Datum* v = out.values(row);
    bool* n = out.nulls(row);
    for (const Column& c : columns_) {
      n[c.column] = false;
      switch (c.field) {
        case 0: v[c.column] = Int64GetDatum(a.id); break;
        case 1: v[c.column] = text(a.item_name); break;
        case 2: v[c.column] = text(a.description); break;
        case 3: v[c.column] = Int64GetDatum(a.initial_bid); break;
        case 4: v[c.column] = Int64GetDatum(a.reserve); break;
        case 5: v[c.column] = TimestampTzGetDatum(a.date_time); break;
        case 6: v[c.column] = TimestampTzGetDatum(a.expires); break;
        case 7: v[c.column] = Int64GetDatum(a.seller); break;
        case 8: v[c.column] = Int64GetDatum(a.category); break;
        case 9: v[c.column] = text(a.extra); break;
      }
    }
  }

  void add_person(Batch& out, int64 event) {
    nexmark::Person p;
    generator_->person(event, p);
    int row = out.append(p.date_time);
    Datum* v = out.values(row);
    bool* n = out.nulls(row);
    for (const Column& c : columns_) {
      n[c.column] = false;
      switch (c.field) {
        case 0: v[c.column] = Int64GetDatum(p.id); break;
        case 1: v[c.column] = text(p.name); break;
        case 2: v[c.column] = text(p.email_address); break;
        case 3: v[c.column] = text(p.credit_card); break;
        case 4: v[c.column] = text(p.city); break;
        case 5: v[c.column] = text(p.state); break;
        case 6: v[c.column] = TimestampTzGetDatum(p.date_time); break;
        case 7: v[c.column] = text(p.extra); break;
      }
    }
  }

  // After the checkpoint's entries: where this worker continues. The rate applies from there:
  // events before it (before the least event nobody generated, after a rescale) count as
  // already due.
  void settle() {
    if (!restored_) return;
    restored_ = false;
    cursor_.resume();
    int64 from = rescaled_from_ ? cursor_.frontier() : cursor_.next();
    if (!rescaled_from_) checkpointed_ = cursor_.next();
    if (event_rate_ > 0) run_start_ -= int64((__int128)from * USECS_PER_SEC / event_rate_);
  }

  void set_event_limit() {
    event_limit_ = nexmark::event_limit(start_, event_rate_ > 0 ? event_rate_
                                                                : nexmark::kDefaultEventsPerSecond);
  }

  EventKind kind_;
  int64 event_rate_, message_count_, seed_;
  int64 event_limit_ = 0;  // events from here on would have times past kMaxEventTimeUs
  std::optional<TimestampTz> start_time_;
  TimestampTz run_start_ = 0, start_ = 0;
  int64 checkpointed_ = 0;
  SubtaskShare share_;     // this worker's event numbers
  bool has_kind_ = true;   // whether any of them is of the table's kind
  ShareCursor cursor_;     // this worker's next event number of the whole sequence
  int rescaled_from_ = 0;  // the checkpoint's parallelism, when it was another
  bool restored_ = false;  // entries were given: settle() before polling
  std::vector<Column> columns_;
  std::unique_ptr<Generator> generator_;
  TextArena arena_;
  TextPool channel_names_, channel_urls_;
};

class NexmarkConnector : public Connector {
 public:
  const char* name() const override { return "nexmark"; }
  // The checkpoint keeps the next event number of the generated sequence these define.
  std::vector<std::string> checkpointed_options() const override {
    return {"event_type", "event_rate", "seed", "start_time"};
  }

  void validate_table(const TableSpec& spec) const override {
    std::vector<OptionSpec> specs = {
        {"event_type", OptionKind::Choice, true, {"bid", "auction", "person"}},
        {"event_rate", OptionKind::NonNegInt, true},
        {"message_count", OptionKind::NonNegInt},
        {"start_time", OptionKind::Timestamptz},
        {"seed", OptionKind::NonNegInt}};
    for (auto& s : event_time_option_specs()) specs.push_back(s);
    validate_options(spec.table_options, specs, kWhere);
    EventKind kind = kind_of(spec);
    const auto& fields = fields_of(kind);
    for (const auto& c : spec.columns) {
      if (!c.options.empty())
        pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
                 "nexmark column \"" + c.name + "\" accepts no options");
      if (c.generated) continue;
      int f = field_index(kind, c.name);
      if (f < 0) {
        std::string names;
        for (const auto& fs : fields) names += std::string(names.empty() ? "" : ", ") + fs.name;
        pg::fail(ERRCODE_UNDEFINED_COLUMN,
                 std::string("nexmark ") + kind_name(kind) + " tables have no column \"" + c.name +
                     "\"",
                 std::string("The columns of ") + kind_name(kind) + " events are " + names + ".");
      }
      if (!type_fits(fields[f].type, c.type, c.typmod))
        pg::fail(ERRCODE_DATATYPE_MISMATCH,
                 "nexmark column \"" + c.name + "\" must be of type " + type_name(fields[f].type));
    }
    validate_event_time(spec);
  }

  TableRole role(const TableSpec&) const override { return TableRole::Source; }

  // Every event's date_time is its event time.
  int event_time_column(const TableSpec& spec) const override {
    for (const auto& c : spec.columns)
      if (c.name == "date_time" && !c.generated) return c.attnum - 1;
    return -1;
  }

  // Each worker of a parallel pipeline generates its share of the event numbers.
  bool splits_source(const TableSpec&) const override { return true; }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<NexmarkSource>(spec);
  }
};

}  // namespace

const Connector& nexmark_connector() {
  static NexmarkConnector instance;
  return instance;
}

}  // namespace arroyo
