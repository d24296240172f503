// The rabbitmq source: consumes one queue (basic.consume, manual acks, basic.qos prefetch) and
// decodes each message with the table's format. Event time: the message's timestamp property
// if it has one, else the time it was received.
//
// Acks follow the checkpoint: the messages taken into an epoch are acked (multiple=true, up to
// the epoch's last delivery tag) in committed(), after the transaction holding their results
// and the checkpoint has committed; a basic.qos sent right after the ack comes back once the
// broker has processed the ack (a channel's methods are handled in order).
//
// No duplicates downstream: messages whose results are committed but whose ack the broker may
// not have processed (the last epoch's, and acked epochs whose qos-ok has not come back) are
// at risk of redelivery after a crash or a lost connection. The checkpoint records each such
// message's identity, a 128-bit hash of its exchange, routing key, message-id, correlation-id,
// timestamp and body, as a multiset (the "window"); after a restart or reconnect, a redelivered
// message (redelivered flag set) whose identity is in the window is skipped (and acked) once
// per recorded occurrence. RabbitMQ requeues unacked messages at their place in the queue,
// ahead of any never-delivered one: the first message without the redelivered flag ends the
// window. README "rabbitmq" states the limits (identical messages, several consumers).
#pragma once

#include "connectors/rabbitmq/rabbitmq_client.hpp"
#include "formats/format.hpp"

#include <deque>
#include <map>
#include <memory>

namespace arroyo {

// A message's identity in the redelivery window.
struct RabbitMessageId {
  uint64 hi = 0, lo = 0;
  bool operator<(const RabbitMessageId& o) const { return hi != o.hi ? hi < o.hi : lo < o.lo; }
};

class RabbitSource : public Source {
 public:
  explicit RabbitSource(const TableSpec& spec);
  ~RabbitSource() override;

  void open(const RuntimeInfo& info) override;
  PollResult poll(Batch& out) override;
  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  int64 state_bytes() const override;
  std::string status() const override { return status_; }
  void committed() override;
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void close() override;

 private:
  bool try_connect();
  // Reads one delivery or frame; false when nothing more is available now (or the
  // connection was lost).
  bool read_one(Batch& out, TimestampTz now);
  void take(const amqp_envelope_t& env, Batch& out, TimestampTz now);
  void handle_frame(const amqp_frame_t& frame);
  void lost(const RabbitFailure& why);
  [[noreturn]] void fail_permanent(const RabbitFailure& why);
  std::string consuming_status() const;

  // From the table's options.
  std::string table_, queue_, label_;
  RabbitEndpoint endpoint_;
  int prefetch_;
  int64 max_message_bytes_;
  std::unique_ptr<RowDecoder> decoder_;
  BadData bad_data_;

  // Running state.
  Latch* latch_ = nullptr;
  std::unique_ptr<RabbitConnection> conn_;
  std::unique_ptr<SocketWaker> waker_;
  RabbitBackoff backoff_;
  TimestampTz next_attempt_ = 0;
  bool ever_connected_ = false;
  std::string status_ = "connecting";
  uint64 last_tag_ = 0;   // the last delivery tag taken on this channel
  uint64 acked_tag_ = 0;  // every tag up to this one is acked
  // The redelivery window (see above): taken since the last commit; acked but not known to be
  // processed (one group per ack, oldest first); recorded before a restart or reconnect.
  std::vector<RabbitMessageId> epoch_;
  std::deque<std::vector<RabbitMessageId>> unconfirmed_;
  std::map<RabbitMessageId, int64> skip_;
  bool window_dirty_ = false;
  int64 skipped_ = 0;  // redelivered messages skipped as already committed
};

}  // namespace arroyo
