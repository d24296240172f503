// The rabbitmq sink: publishes one message per row (the table's format) to an exchange with a
// fixed routing key, persistent (delivery mode 2), its timestamp property the row's event time
// in seconds, on a channel in confirm mode (confirm.select).
//
// commit() returns once the broker has confirmed every message published so far: the pipeline
// commits only what the broker has taken. Messages not yet confirmed are kept; if the
// connection is lost they are published again after reconnecting (with backoff), so a message
// may reach the exchange twice: at-least-once. A negative confirm (basic.nack) fails the
// pipeline. The broker drops a message that no queue is bound to receive (no mandatory flag).
#pragma once

#include "connectors/rabbitmq/rabbitmq_client.hpp"
#include "formats/format.hpp"

#include <map>
#include <memory>

namespace arroyo {

class RabbitSink : public Sink {
 public:
  explicit RabbitSink(const TableSpec& spec);
  ~RabbitSink() override = default;

  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }
  void open(const RuntimeInfo& info) override;
  void write(const Batch& rows) override;
  void commit() override;
  void close() override;

 private:
  struct Pending {
    std::string body;
    uint64 timestamp;  // seconds since 1970
  };
  void send(const EncodedMessage& m);
  bool publish(uint64 tag, const Pending& p);
  void ensure_connected();
  bool try_connect();
  // Reads confirms for up to `timeout_ms` (0: only what has arrived).
  void drain(int timeout_ms);
  void handle_frame(const amqp_frame_t& frame);
  void lost(const RabbitFailure& why);

  std::string table_, exchange_, routing_key_, label_, content_type_;
  RabbitEndpoint endpoint_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;
  std::unique_ptr<RabbitConnection> conn_;
  RabbitBackoff backoff_;
  TimestampTz next_attempt_ = 0;
  bool ever_connected_ = false;
  // Published and not yet confirmed, by delivery tag of the current channel.
  std::map<uint64, Pending> pending_;
  size_t pending_bytes_ = 0;
  uint64 next_tag_ = 1;
  int since_drain_ = 0;
};

}  // namespace arroyo
