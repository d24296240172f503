#include "connectors/rabbitmq/rabbitmq_sink.hpp"

#include "pg/guard.hpp"
#include "pg/time.hpp"
#include "pg/wait.hpp"

namespace arroyo {

namespace {

// Unconfirmed messages kept at most; beyond it write() waits for confirms.
constexpr size_t kMaxPendingBytes = size_t(64) << 20;
constexpr size_t kMaxPendingMessages = 100000;
constexpr int kDrainEvery = 256;
constexpr int kWaitSliceMs = 100;
constexpr int64 kWaitLogIntervalUs = 10 * USECS_PER_SEC;

}  // namespace

RabbitSink::RabbitSink(const TableSpec& spec)
    : table_(spec.name),
      exchange_(get_option(spec.table_options, "exchange").value_or("")),
      routing_key_(get_option(spec.table_options, "routing_key").value_or("")),
      endpoint_(rabbitmq_endpoint(spec)) {
  label_ = "rabbitmq sink " + table_ + " (exchange \"" + exchange_ + "\")";
  content_type_ = table_format(spec) == "raw_string" ? "text/plain" : "application/json";
  encoder_ = make_row_encoder(spec);
  emit_ = [this](const EncodedMessage& m) { send(m); };
}

void RabbitSink::open(const RuntimeInfo&) {
  conn_ = std::make_unique<RabbitConnection>(endpoint_);
  ensure_connected();
}

// Connects, checks that the exchange exists and turns on publisher confirms; then publishes
// again, in order, what the previous connection left unconfirmed.
bool RabbitSink::try_connect() {
  RabbitFailure why;
  bool ok = conn_->connect(&why);
  amqp_connection_state_t c = conn_->state();
  if (ok && !exchange_.empty()) {
    amqp_exchange_declare(c, kRabbitChannel, amqp_cstring_bytes(exchange_.c_str()),
                          amqp_cstring_bytes("direct"), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      why = conn_->failure(r, "find exchange \"" + exchange_ + "\"");
      ok = false;
    }
  }
  if (ok) {
    amqp_confirm_select(c, kRabbitChannel);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      why = conn_->failure(r, "turn on publisher confirms");
      ok = false;
    }
  }
  if (!ok) {
    conn_->drop();
    if (why.permanent) pg::fail(ERRCODE_FDW_ERROR, label_ + ": " + why.text);
    next_attempt_ = backoff_.failed(GetCurrentTimestamp());
    if (backoff_.attempts() == 1)
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: %s: %s; retrying", label_.c_str(), why.text.c_str())));
      });
    return false;
  }
  if (ever_connected_ || backoff_.attempts() > 0)
    pg::call([&] {
      ereport(LOG, (errmsg("arroyo_stream: %s: connected to %s; publishing %zu unconfirmed "
                           "message(s) again",
                           label_.c_str(), endpoint_.display().c_str(), pending_.size())));
    });
  ever_connected_ = true;
  backoff_.succeeded();
  next_tag_ = 1;
  std::map<uint64, Pending> old;
  old.swap(pending_);
  for (auto& [tag, p] : old) {
    uint64 t = next_tag_++;
    Pending& moved = pending_[t] = std::move(p);
    if (!publish(t, moved)) return false;
  }
  return true;
}

// Waits (on the latch, so a stop or cancel is served) until connected.
void RabbitSink::ensure_connected() {
  while (!conn_->connected()) {
    TimestampTz now = GetCurrentTimestamp();
    if (now < next_attempt_) {
      long ms = long((next_attempt_ - now + 999) / 1000);
      pg::call([&] { pg::wait_latch(std::min(ms, 1000L)); });
      continue;
    }
    try_connect();
  }
}

void RabbitSink::write(const Batch& rows) {
  encoder_->encode(rows, emit_);
  drain(0);
}

void RabbitSink::send(const EncodedMessage& m) {
  Pending p;
  if (m.data) p.body.assign(m.data, m.len);
  int64 millis = m.time / 1000 + pg::kUnixToPostgresMs;
  p.timestamp = millis > 0 ? uint64(millis / 1000) : 0;
  while (pending_bytes_ > kMaxPendingBytes || pending_.size() >= kMaxPendingMessages) {
    ensure_connected();
    drain(kWaitSliceMs);
    pg::call([] { CHECK_FOR_INTERRUPTS(); });
  }
  ensure_connected();
  uint64 tag = next_tag_++;
  pending_bytes_ += p.body.size();
  Pending& kept = pending_[tag] = std::move(p);
  publish(tag, kept);  // a failure leaves it pending, for the next connection
  if (++since_drain_ >= kDrainEvery) drain(0);
}

// Publishes one message on the current channel; false if the connection was lost.
bool RabbitSink::publish(uint64, const Pending& p) {
  amqp_basic_properties_t props;
  props._flags =
      AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.content_type = amqp_cstring_bytes(content_type_.c_str());
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.timestamp = p.timestamp;
  amqp_bytes_t body = {p.body.size(), const_cast<char*>(p.body.data())};
  int status =
      amqp_basic_publish(conn_->state(), kRabbitChannel, amqp_cstring_bytes(exchange_.c_str()),
                         amqp_cstring_bytes(routing_key_.c_str()), 0, 0, &props, body);
  if (status == AMQP_STATUS_OK) return true;
  lost({std::string("could not publish: ") + amqp_error_string2(status)});
  return false;
}

void RabbitSink::drain(int timeout_ms) {
  since_drain_ = 0;
  while (conn_->connected()) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    amqp_frame_t frame;
    amqp_maybe_release_buffers(conn_->state());
    int status = amqp_simple_wait_frame_noblock(conn_->state(), &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) return;
    if (status != AMQP_STATUS_OK) {
      lost({std::string("could not read confirms: ") + amqp_error_string2(status)});
      return;
    }
    handle_frame(frame);
    timeout_ms = 0;  // then only what has arrived too
  }
}

// A confirm (basic.ack / basic.nack, possibly for every tag up to one), or the channel's end.
void RabbitSink::handle_frame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      auto end = ack->multiple ? pending_.upper_bound(ack->delivery_tag)
                               : pending_.find(ack->delivery_tag);
      auto begin = ack->multiple ? pending_.begin() : end;
      if (!ack->multiple && end != pending_.end()) end = std::next(end);
      for (auto it = begin; it != end; ++it) pending_bytes_ -= it->second.body.size();
      pending_.erase(begin, end);
      return;
    }
    case AMQP_BASIC_NACK_METHOD:
      pg::fail(ERRCODE_FDW_ERROR,
               label_ + ": the broker refused a message (basic.nack): it could not take it");
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
      RabbitFailure why = RabbitConnection::closed_by_server(frame);
      if (why.permanent) pg::fail(ERRCODE_FDW_ERROR, label_ + ": " + why.text);
      lost(why);
      return;
    }
    default: return;
  }
}

void RabbitSink::lost(const RabbitFailure& why) {
  conn_->drop();
  next_attempt_ = backoff_.failed(GetCurrentTimestamp());
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: connection lost with %zu unconfirmed message(s), "
                         "reconnecting: %s",
                         label_.c_str(), pending_.size(), why.text.c_str())));
  });
}

// Waits until the broker has confirmed every message published so far.
void RabbitSink::commit() {
  if (!conn_) return;
  encoder_->finish(emit_);
  TimestampTz last_log = GetCurrentTimestamp();
  while (!pending_.empty()) {
    ensure_connected();
    drain(kWaitSliceMs);
    pg::call([] { CHECK_FOR_INTERRUPTS(); });
    TimestampTz now = GetCurrentTimestamp();
    if (!pending_.empty() && now - last_log >= kWaitLogIntervalUs) {
      last_log = now;
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: %s: waiting for the broker to confirm %zu "
                             "message(s)",
                             label_.c_str(), pending_.size())));
      });
    }
  }
}

void RabbitSink::close() {
  if (!conn_) return;
  commit();
  conn_->close();
}

}  // namespace arroyo
