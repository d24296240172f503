// sse: a source reading a Server-Sent Events stream, like Arroyo's. An SseClient thread keeps
// the connection (reconnecting with backoff, resuming with Last-Event-ID) and queues the
// events; poll() keeps those of the `events` types and decodes their data into rows in the
// worker. The last event id is checkpointed with the rows it covers, so a restarted pipeline
// asks the server to resume right after it: exactly-once when the server honours
// Last-Event-ID; otherwise what the server sent while no worker listened is lost.
#include "core/connector.hpp"
#include "connectors/http_common/http_options.hpp"
#include "connectors/sse/sse_client.hpp"
#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "pg/time.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <set>

namespace arroyo {

namespace {

constexpr const char* kSseWhere = "connector \"sse\" tables";

std::vector<OptionSpec> sse_option_specs() {
  std::vector<OptionSpec> specs = {
      {"endpoint", OptionKind::Text, true},
      {"type", OptionKind::Choice, false, {"source"}},
      {"headers", OptionKind::Text},
      {"events", OptionKind::Text},
      {"max_message_size", OptionKind::PosInt},
  };
  for (OptionSpec& s : format_option_specs({"json", "raw_string"})) specs.push_back(s);
  for (OptionSpec& s : event_time_option_specs()) specs.push_back(s);
  return specs;
}

// The event types to keep (option events: 'a, b'); empty: all.
std::set<std::string> sse_events(const TableSpec& spec) {
  std::set<std::string> out;
  auto text = get_option(spec.table_options, "events");
  if (!text) return out;
  size_t start = 0;
  while (start <= text->size()) {
    size_t comma = text->find(',', start);
    if (comma == std::string::npos) comma = text->size();
    std::string item = text->substr(start, comma - start);
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos)
      http_bad_value("events", *text, "Expected event types separated by commas.");
    item = item.substr(b, e - b + 1);
    for (char c : item)
      if (c == '\r' || c == '\n' || c == '\0')
        http_bad_value("events", *text, "An event type holds a line break.");
    out.insert(item);
    start = comma + 1;
  }
  return out;
}

class SseSource : public Source {
 public:
  explicit SseSource(const TableSpec& spec)
      : decoder_(make_row_decoder(spec)), bad_data_(spec), events_(sse_events(spec)) {
    config_.request.url = http_endpoint(spec);
    config_.request.headers = http_request_headers(spec);
    config_.request.fail_on_error = true;
    config_.max_event_bytes = http_max_message_size(spec);
    config_.queue_max_messages = kHttpQueueMaxMessages;
    config_.queue_max_bytes = kHttpQueueMaxBytes;
  }

  ~SseSource() override {
    if (client_) http_untrack_thread(client_.get());  // client_'s destructor stops it
  }

  void open(const RuntimeInfo&) override { latch_ = MyLatch; }

  // The checkpointed last event id: the first request resumes after it.
  void restore(const StateEntry& e) override {
    StateDecoder value(e.value.data(), e.value.size(), "last event id of " + config_.request.url);
    std::string id = value.get_string();
    value.expect_end();
    if (e.part != 0 || e.key != "last_event_id")
      value.corrupt("entry " + std::to_string(e.part) + "/" + e.key);
    last_id_ = checkpointed_id_ = id;
  }

  PollResult poll(Batch& out) override {
    if (!client_) start();
    messages_.clear();
    int room = (out.capacity() - out.size()) / decoder_->max_rows_per_message();
    client_->take(messages_, size_t(room));
    if (messages_.empty()) return PollResult::idle();
    for (HttpMessage& m : messages_) {
      event_number_++;
      last_id_ = m.id;
      if (!events_.empty() && !events_.count(m.type)) continue;
      bad_data_.decode(
          out, [&] { decode(m, out); }, [&] { return where(m); });
    }
    messages_.clear();
    return PollResult::data();
  }

  void checkpoint(StateWriter& w) override {
    if (last_id_ == checkpointed_id_) return;
    StateEncoder value;
    value.put_string(last_id_);
    w.put(0, "last_event_id", value.bytes());
    checkpointed_id_ = last_id_;
  }

  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  std::string status() const override { return client_ ? client_->status() : std::string(); }

  void close() override {
    if (client_) client_->stop();
  }

 private:
  void start() {
    config_.last_event_id = last_id_;
    Latch* latch = latch_;
    client_ = std::make_unique<SseClient>(config_, [latch] { SetLatch(latch); });
    http_start_thread(client_.get(), "sse source");
  }

  // Appends the event's row, its event time the time it was received.
  void decode(const HttpMessage& m, Batch& out) {
    if (m.oversized)
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
               "event of " + std::to_string(m.size) + " bytes exceeds max_message_size (" +
                   std::to_string(config_.max_event_bytes) + " bytes)");
    decoder_->decode(m.data.data(), m.data.size(), out, m.received_unix_us - pg::kUnixToPostgresUs);
  }

  // "bad data in event 7 (id 42) from http://…".
  std::string where(const HttpMessage& m) const {
    return "bad data in event " + std::to_string(event_number_) +
           (m.id.empty() ? std::string() : " (id " + m.id + ")") + " from " + config_.request.url;
  }

  SseClientConfig config_;
  std::unique_ptr<RowDecoder> decoder_;
  BadData bad_data_;
  std::set<std::string> events_;
  Latch* latch_ = nullptr;
  std::unique_ptr<SseClient> client_;
  std::vector<HttpMessage> messages_;
  int64 event_number_ = 0;
  std::string last_id_, checkpointed_id_;
};

class SseConnector : public Connector {
 public:
  const char* name() const override { return "sse"; }
  std::vector<OptionSpec> user_mapping_options() const override {
    return http_user_mapping_specs();
  }
  // The checkpointed event id belongs to one stream.
  std::vector<std::string> checkpointed_options() const override { return {"endpoint"}; }

  void validate_table(const TableSpec& spec) const override {
    validate_options(spec.table_options, sse_option_specs(), kSseWhere);
    validate_http_common(spec, kSseWhere, true);
    sse_events(spec);
    validate_table_format(spec, TableRole::Source);
  }

  TableRole role(const TableSpec&) const override { return TableRole::Source; }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<SseSource>(spec);
  }
};

}  // namespace

const Connector& sse_connector() {
  static const SseConnector connector;
  return connector;
}

}  // namespace arroyo
