// The mqtt source: a client thread subscribes to the table's topic filter and queues every
// message; poll() decodes them into rows in the worker, where PostgreSQL may be called, and
// fills the (metadata 'topic') column. Event time defaults to the time a message was received.
// QoS 1/2 use a persistent session: the broker keeps what arrives while the pipeline is away.
// Messages are acknowledged as libmosquitto receives them, before the pipeline commits them.
#include "connectors/mqtt/mqtt.hpp"
#include "connectors/mqtt/mqtt_options.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "pg/time.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace arroyo {

namespace {

class MqttSource : public Source {
 public:
  explicit MqttSource(const TableSpec& spec)
      : spec_(spec),
        url_(get_option(spec.server_options, "url").value_or("")),
        max_payload_bytes_(mqtt_max_packet_bytes(spec)),
        topic_column_(mqtt_topic_column(spec)),
        decoder_(make_row_decoder(spec)),
        bad_data_(spec) {}

  ~MqttSource() override { mqtt_release_client(client_); }

  void open(const RuntimeInfo& info) override {
    mqtt_check_tls_files(spec_);
    client_ = mqtt_start_client(mqtt_client_config(spec_, info), "mqtt source " + spec_.name);
  }

  PollResult poll(Batch& out) override {
    std::string why;
    if (client_->failed(&why))
      pg::fail(ERRCODE_CONNECTION_FAILURE, "MQTT client for " + url_ + " stopped: " + why);
    messages_.clear();
    int room = (out.capacity() - out.size()) / decoder_->max_rows_per_message();
    client_->take(messages_, size_t(room));
    if (messages_.empty()) return PollResult::idle();
    for (MqttMessage& m : messages_) {
      message_number_++;
      bad_data_.decode(
          out, [&] { decode(m, out); }, [&] { return where(m); });
    }
    messages_.clear();
    return PollResult::data();
  }

  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  std::string status() const override { return client_ ? client_->status() : std::string(); }
  void close() override { mqtt_release_client(client_); }

 private:
  // Appends the message's rows, their event time the time it was received, and their topic.
  void decode(const MqttMessage& m, Batch& out) {
    if (m.oversized)
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "message of " + std::to_string(m.size) +
                                                   " bytes exceeds max_packet_size (" +
                                                   std::to_string(max_payload_bytes_) + " bytes)");
    int before = out.size();
    decoder_->decode(m.payload.data(), m.payload.size(), out,
                     m.received_unix_us - pg::kUnixToPostgresUs);
    if (topic_column_ < 0) return;
    Datum topic = pg::call([&] {
      // libmosquitto has checked that the topic is UTF-8; converts to the database encoding.
      char* text = pg_any_to_server(m.topic.c_str(), int(m.topic.size()), PG_UTF8);
      return PointerGetDatum(cstring_to_text(text));
    });
    for (int r = before; r < out.size(); r++) {
      out.values(r)[topic_column_] = topic;
      out.nulls(r)[topic_column_] = false;
    }
  }

  // "bad data in message 7 on topic "sensors/a/temp" from tcp://…".
  std::string where(const MqttMessage& m) const {
    return "bad data in message " + std::to_string(message_number_) + " on topic \"" + m.topic +
           "\" from " + url_;
  }

  TableSpec spec_;
  std::string url_;
  int64 max_payload_bytes_;
  int topic_column_;
  std::unique_ptr<RowDecoder> decoder_;  // the table's format
  BadData bad_data_;
  std::unique_ptr<MqttClient> client_;
  std::vector<MqttMessage> messages_;
  int64 message_number_ = 0;
};

}  // namespace

std::unique_ptr<Source> make_mqtt_source(const TableSpec& spec) {
  return std::make_unique<MqttSource>(spec);
}

}  // namespace arroyo
