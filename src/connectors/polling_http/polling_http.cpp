// polling_http: a source requesting an HTTP endpoint every poll_interval_ms, like Arroyo's.
// A Poller thread makes the requests and queues the bodies; poll() decodes each body into a
// row in the worker, skipping, under emit_behavior 'changed', a body equal to the previous one
// (by a 64-bit FNV-1a hash). The hash is checkpointed, so "changed" holds across a restart.
// An HTTP endpoint has no replay: what it served between polls, or while stopped, is not seen.
#include "core/connector.hpp"
#include "connectors/http_common/http_options.hpp"
#include "connectors/polling_http/poller.hpp"
#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "pg/time.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

namespace arroyo {

namespace {

constexpr const char* kPollingWhere = "connector \"polling_http\" tables";
constexpr int64 kDefaultPollIntervalMs = 1000;
constexpr int64 kMaxPollIntervalMs = int64(24) * 3600 * 1000;

std::vector<OptionSpec> polling_option_specs() {
  std::vector<OptionSpec> specs = {
      {"endpoint", OptionKind::Text, true},
      {"type", OptionKind::Choice, false, {"source"}},
      {"headers", OptionKind::Text},
      {"method", OptionKind::Choice, false, {"GET", "POST", "PUT", "PATCH"}},
      {"body", OptionKind::Text},
      {"poll_interval_ms", OptionKind::PosInt},
      {"emit_behavior", OptionKind::Choice, false, {"all", "changed"}},
      {"max_message_size", OptionKind::PosInt},
  };
  for (OptionSpec& s : format_option_specs({"json", "raw_string"})) specs.push_back(s);
  for (OptionSpec& s : event_time_option_specs()) specs.push_back(s);
  return specs;
}

// 64-bit FNV-1a: stable across processes and versions, as a checkpointed hash must be.
uint64 fnv1a(const std::string& s) {
  uint64 h = UINT64CONST(14695981039346656037);
  for (unsigned char c : s) {
    h ^= c;
    h *= UINT64CONST(1099511628211);
  }
  return h;
}

class PollingSource : public Source {
 public:
  explicit PollingSource(const TableSpec& spec)
      : decoder_(make_row_decoder(spec)), bad_data_(spec) {
    const Options& o = spec.table_options;
    config_.request.url = http_endpoint(spec);
    config_.request.headers = http_request_headers(spec);
    config_.request.method = get_option(o, "method").value_or("GET");
    config_.request.body = get_option(o, "body").value_or("");
    config_.interval_us = option_int(o, "poll_interval_ms", kDefaultPollIntervalMs) * 1000;
    config_.max_body_bytes = http_max_message_size(spec);
    config_.queue_max_messages = kHttpQueueMaxMessages;
    config_.queue_max_bytes = kHttpQueueMaxBytes;
    changed_only_ = get_option(o, "emit_behavior").value_or("all") == "changed";
  }

  ~PollingSource() override {
    if (poller_) http_untrack_thread(poller_.get());  // poller_'s destructor stops it
  }

  void open(const RuntimeInfo&) override { latch_ = MyLatch; }

  // The hash of the last body received before the checkpoint.
  void restore(const StateEntry& e) override {
    StateDecoder value(e.value.data(), e.value.size(), "body hash of " + config_.request.url);
    int64 hash = value.get_int();
    value.expect_end();
    if (e.part != 0 || e.key != "body_hash")
      value.corrupt("entry " + std::to_string(e.part) + "/" + e.key);
    last_hash_ = checkpointed_hash_ = uint64(hash);
    has_hash_ = has_checkpointed_ = true;
  }

  PollResult poll(Batch& out) override {
    if (!poller_) {
      Latch* latch = latch_;
      poller_ = std::make_unique<Poller>(config_, [latch] { SetLatch(latch); });
      http_start_thread(poller_.get(), "polling_http source");
    }
    messages_.clear();
    int room = (out.capacity() - out.size()) / decoder_->max_rows_per_message();
    poller_->take(messages_, size_t(room));
    if (messages_.empty()) return PollResult::idle();
    for (HttpMessage& m : messages_) {
      response_number_++;
      uint64 hash = m.oversized ? ~uint64(m.size) : fnv1a(m.data);
      bool same = has_hash_ && hash == last_hash_;
      last_hash_ = hash;
      has_hash_ = true;
      if (changed_only_ && same) continue;
      bad_data_.decode(
          out, [&] { decode(m, out); }, [&] { return where(); });
    }
    messages_.clear();
    return PollResult::data();
  }

  void checkpoint(StateWriter& w) override {
    if (!has_hash_ || (has_checkpointed_ && last_hash_ == checkpointed_hash_)) return;
    StateEncoder value;
    value.put_int(int64(last_hash_));
    w.put(0, "body_hash", value.bytes());
    checkpointed_hash_ = last_hash_;
    has_checkpointed_ = true;
  }

  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  std::string status() const override { return poller_ ? poller_->status() : std::string(); }

  void close() override {
    if (poller_) poller_->stop();
  }

 private:
  void decode(const HttpMessage& m, Batch& out) {
    if (m.oversized)
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
               "response of " + std::to_string(m.size) + " bytes exceeds max_message_size (" +
                   std::to_string(config_.max_body_bytes) + " bytes)");
    decoder_->decode(m.data.data(), m.data.size(), out, m.received_unix_us - pg::kUnixToPostgresUs);
  }

  std::string where() const {
    return "bad data in response " + std::to_string(response_number_) + " from " +
           config_.request.url;
  }

  PollerConfig config_;
  std::unique_ptr<RowDecoder> decoder_;
  BadData bad_data_;
  bool changed_only_ = false;
  Latch* latch_ = nullptr;
  std::unique_ptr<Poller> poller_;
  std::vector<HttpMessage> messages_;
  int64 response_number_ = 0;
  uint64 last_hash_ = 0, checkpointed_hash_ = 0;
  bool has_hash_ = false, has_checkpointed_ = false;
};

class PollingHttpConnector : public Connector {
 public:
  const char* name() const override { return "polling_http"; }
  std::vector<OptionSpec> user_mapping_options() const override {
    return http_user_mapping_specs();
  }

  void validate_table(const TableSpec& spec) const override {
    const Options& o = spec.table_options;
    validate_options(o, polling_option_specs(), kPollingWhere);
    validate_http_common(spec, kPollingWhere, true);
    int64 interval = option_int(o, "poll_interval_ms", kDefaultPollIntervalMs);
    if (interval > kMaxPollIntervalMs)
      http_bad_value("poll_interval_ms", *get_option(o, "poll_interval_ms"),
                     "The longest allowed is " + std::to_string(kMaxPollIntervalMs) + " (a day).");
    if (auto body = get_option(o, "body"); body && body->size() > size_t(1) << 20)
      http_bad_value("body", body->substr(0, 20) + "...", "The longest allowed is 1 MiB.");
    validate_table_format(spec, TableRole::Source);
  }

  TableRole role(const TableSpec&) const override { return TableRole::Source; }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<PollingSource>(spec);
  }
};

}  // namespace

const Connector& polling_http_connector() {
  static const PollingHttpConnector connector;
  return connector;
}

}  // namespace arroyo
