// The mqtt sink: one message per row, the payload in the table's format, published to the
// table's topic with its qos and sink.retain. commit() waits until the broker has acknowledged
// every message written so far (QoS 1: PUBACK, QoS 2: PUBCOMP; QoS 0: written to the socket),
// so what a committed pipeline transaction produced has reached the broker: at-least-once for
// QoS 1/2 (libmosquitto resends unacknowledged messages after a reconnection).
#include "connectors/mqtt/mqtt.hpp"
#include "connectors/mqtt/mqtt_options.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <mosquitto.h>

#include <chrono>

namespace arroyo {

namespace {

// Publications not yet acknowledged at once; write() waits beyond.
constexpr int64 kMaxUnacknowledged = 10000;
// Without any acknowledgement (or a connection) for this long, the sink fails.
constexpr int64 kAckTimeoutMs = 60000;
constexpr int64 kWaitLogIntervalMs = 10000;
constexpr int kWaitSliceMs = 100;

using Clock = std::chrono::steady_clock;

int64 ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class MqttSink : public Sink {
 public:
  explicit MqttSink(const TableSpec& spec)
      : spec_(spec),
        url_(get_option(spec.server_options, "url").value_or("")),
        topic_(get_option(spec.table_options, "topic").value_or("")),
        retain_(get_option(spec.table_options, "sink.retain") == "true"),
        max_payload_bytes_(mqtt_max_packet_bytes(spec)),
        encoder_(make_row_encoder(spec)) {
    label_ = "mqtt sink " + spec.name + " (topic \"" + topic_ + "\" at " + url_ + ")";
    emit_ = [this](const EncodedMessage& m) { send(m); };
  }

  ~MqttSink() override { mqtt_release_client(client_); }

  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }

  void open(const RuntimeInfo& info) override {
    mqtt_check_tls_files(spec_);
    client_ = mqtt_start_client(mqtt_client_config(spec_, info), label_);
    // Messages published before the first connection would be sent after later ones.
    wait_until("accept a connection", [&] { return client_->connected(); });
  }

  void write(const Batch& rows) override {
    encoder_->encode(rows, emit_);
    check_client();
  }

  // Waits until every message written so far is acknowledged.
  void commit() override {
    if (!client_) return;
    encoder_->finish(emit_);
    wait_until("acknowledge", [&] { return client_->unacknowledged() == 0; });
  }

  void close() override {
    if (!client_) return;
    commit();
    mqtt_release_client(client_);
  }

 private:
  // Publishes one encoded row, waiting while too many are unacknowledged or (QoS 0) while the
  // client is not connected.
  void send(const EncodedMessage& m) {
    if (int64(m.len) > max_payload_bytes_)
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
               "row of " + std::to_string(m.len) + " bytes exceeds max_packet_size (" +
                   std::to_string(max_payload_bytes_) + " bytes)",
               label_);
    if (client_->unacknowledged() >= kMaxUnacknowledged)
      wait_until("acknowledge", [&] { return client_->unacknowledged() < kMaxUnacknowledged / 2; });
    for (;;) {
      int rc = client_->publish(topic_, m.data ? m.data : "", m.data ? m.len : 0, retain_);
      if (rc == MOSQ_ERR_SUCCESS) return;
      if (rc != MOSQ_ERR_NO_CONN)
        pg::fail(ERRCODE_FDW_ERROR,
                 label_ + ": could not publish a message: " + mosquitto_strerror(rc));
      wait_until("accept a connection", [&] { return client_->connected(); });
    }
  }

  void check_client() {
    std::string why;
    if (client_->failed(&why)) pg::fail(ERRCODE_CONNECTION_FAILURE, label_ + ": " + why);
  }

  // Waits until done() holds; fails when the broker makes no progress for kAckTimeoutMs.
  template <typename Done>
  void wait_until(const char* what, Done&& done) {
    Clock::time_point progress = Clock::now(), logged = Clock::now();
    int64 pending = client_->unacknowledged();
    for (;;) {
      check_client();
      if (done()) return;
      client_->wait_acknowledgements(kWaitSliceMs);
      pg::call([] { CHECK_FOR_INTERRUPTS(); });
      int64 now_pending = client_->unacknowledged();
      if (now_pending != pending) {
        pending = now_pending;
        progress = Clock::now();
      }
      if (ms_since(progress) >= kAckTimeoutMs)
        pg::fail(ERRCODE_CONNECTION_FAILURE,
                 label_ + ": the broker did not " + what + " within " +
                     std::to_string(kAckTimeoutMs / 1000) + " s",
                 std::to_string(pending) + " message(s) are unacknowledged; the client is " +
                     client_->status() + ".");
      if (ms_since(logged) >= kWaitLogIntervalMs) {
        logged = Clock::now();
        std::string line = label_ + ": waiting for the broker to " + what + " (" +
                           std::to_string(pending) + " unacknowledged message(s); " +
                           client_->status() + ")";
        pg::call([&] { ereport(LOG, (errmsg("arroyo_stream: %s", line.c_str()))); });
      }
    }
  }

  TableSpec spec_;
  std::string url_, topic_, label_;
  bool retain_;
  int64 max_payload_bytes_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;
  std::unique_ptr<MqttClient> client_;
};

}  // namespace

std::unique_ptr<Sink> make_mqtt_sink(const TableSpec& spec) {
  return std::make_unique<MqttSink>(spec);
}

}  // namespace arroyo
