// webhook: a sink POSTing rows to an HTTP endpoint, like Arroyo's. Rows are batched: each POST
// carries a JSON array of the rows (as the table's format, json or debezium_json, encodes
// them) written since the previous POST, sent when the pipeline commits or when a batch
// reaches kMaxBatchRows rows or kMaxBatchBytes bytes. A failed POST (no connection, a timeout,
// HTTP 5xx or 429) is retried with exponential backoff; after kMaxAttempts, or at once for
// another status, the pipeline fails with the status in its error. A POST completes before
// the pipeline's transaction commits, so after a failure or a restart the rows since the last
// checkpoint are sent again: at-least-once.
#include "core/connector.hpp"
#include "connectors/http_common/http_options.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "pg/wait.hpp"

namespace arroyo {

namespace {

constexpr const char* kWebhookWhere = "connector \"webhook\" tables";
constexpr int kMaxBatchRows = 1000;
constexpr size_t kMaxBatchBytes = size_t(4) << 20;
constexpr int kMaxAttempts = 6;
constexpr int64_t kFirstRetryUs = 200000;
constexpr int64_t kMaxRetryUs = 10000000;
constexpr long kRequestTimeoutMs = 30000;
constexpr size_t kMaxResponseBytes = 1024;  // of a response body kept for an error's detail
constexpr int kMaxInterruptions = 100;      // POSTs cut short by interrupts, per batch

std::vector<OptionSpec> webhook_option_specs() {
  std::vector<OptionSpec> specs = {
      {"endpoint", OptionKind::Text, true},
      {"type", OptionKind::Choice, false, {"sink"}},
      {"headers", OptionKind::Text},
  };
  for (OptionSpec& s : format_option_specs({"json", "debezium_json"})) specs.push_back(s);
  return specs;
}

class WebhookSink : public Sink {
 public:
  explicit WebhookSink(const TableSpec& spec) : encoder_(make_row_encoder(spec)) {
    request_.url = http_endpoint(spec);
    request_.method = "POST";
    request_.headers = http_request_headers(spec);
    if (!http_has_header(request_.headers, "Content-Type"))
      request_.headers.push_back({"Content-Type", "application/json"});
    request_.timeout_ms = kRequestTimeoutMs;
    emit_ = [this](const EncodedMessage& m) { add(m); };
  }

  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }

  void open(const RuntimeInfo&) override {
    try {
      http_global_init();
    } catch (const std::exception& e) {
      pg::fail(ERRCODE_INTERNAL_ERROR, std::string("webhook sink: ") + e.what());
    }
  }

  void write(const Batch& rows) override { encoder_->encode(rows, emit_); }

  void commit() override {
    encoder_->finish(emit_);
    flush();
  }

 private:
  // Appends one encoded row to the batch; sends the batch when it is full.
  void add(const EncodedMessage& m) {
    if (!m.data) return;  // a message without a value (a Debezium tombstone) has no JSON
    body_.push_back(rows_ ? ',' : '[');
    body_.append(m.data, m.len);
    rows_++;
    if (rows_ >= kMaxBatchRows || body_.size() >= kMaxBatchBytes) flush();
  }

  // POSTs the batch, retrying; fails the pipeline when it cannot be delivered.
  void flush() {
    if (rows_ == 0) return;
    body_.push_back(']');
    request_.body.swap(body_);
    Backoff backoff(kFirstRetryUs, kMaxRetryUs);
    std::string why, response;
    int interruptions = 0;
    for (int attempt = 1;; attempt++) {
      response.clear();
      HttpResult r = http_perform(
          request_, {},
          [&](const char* data, size_t len) {
            if (response.size() < kMaxResponseBytes)
              response.append(data, std::min(len, kMaxResponseBytes - response.size()));
            return true;
          },
          [] { return !InterruptPending; });
      if (r.aborted) {
        // An interrupt (a cancel or terminate request ends the pipeline here); one the worker
        // only had to take note of does not use up an attempt, up to a bound.
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
        if (++interruptions <= kMaxInterruptions) {
          attempt--;
          continue;
        }
      }
      if (r.ok && r.status >= 200 && r.status < 300) break;
      bool retry = !r.ok || r.status >= 500 || r.status == 429;
      why = r.ok ? "HTTP " + std::to_string(r.status) : (r.aborted ? "interrupted" : r.error);
      if (!retry)
        pg::fail(ERRCODE_CONNECTION_FAILURE,
                 "webhook endpoint " + request_.url + " answered " + why + " to a batch of " +
                     std::to_string(rows_) + " rows",
                 response.empty() ? std::string() : "The response: " + response);
      if (attempt >= kMaxAttempts)
        pg::fail(ERRCODE_CONNECTION_FAILURE,
                 "webhook POST to " + request_.url + " failed after " +
                     std::to_string(kMaxAttempts) + " attempts: " + why,
                 response.empty() ? std::string() : "The last response: " + response);
      sleep_us(backoff.next());
    }
    request_.body.clear();
    body_.clear();
    rows_ = 0;
  }

  // Waits on the latch (interrupts are handled), then sets it again so that whatever woke it
  // (a source's data) is still noticed by the worker's loop.
  static void sleep_us(int64_t us) {
    TimestampTz until = pg::call([] { return GetCurrentTimestamp(); }) + us;
    for (;;) {
      TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
      if (now >= until) break;
      pg::wait_latch(long((until - now + 999) / 1000));
    }
    pg::call([] { SetLatch(MyLatch); });
  }

  HttpRequest request_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;
  std::string body_;
  int rows_ = 0;
};

class WebhookConnector : public Connector {
 public:
  const char* name() const override { return "webhook"; }
  std::vector<OptionSpec> user_mapping_options() const override {
    return http_user_mapping_specs();
  }

  void validate_table(const TableSpec& spec) const override {
    validate_options(spec.table_options, webhook_option_specs(), kWebhookWhere);
    validate_http_common(spec, kWebhookWhere, false);
    validate_table_format(spec, TableRole::Sink);
  }

  TableRole role(const TableSpec&) const override { return TableRole::Sink; }
  // debezium_json sends changes: the sink takes updating results.
  bool accepts_updates(const TableSpec& spec) const override { return format_is_updating(spec); }

  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return std::make_unique<WebhookSink>(spec);
  }
};

}  // namespace

const Connector& webhook_connector() {
  static const WebhookConnector connector;
  return connector;
}

}  // namespace arroyo
