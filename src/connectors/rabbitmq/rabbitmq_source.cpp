#include "connectors/rabbitmq/rabbitmq_source.hpp"

#include "pg/guard.hpp"
#include "pg/time.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

namespace arroyo {

namespace {

// Entries a restored window may hold: far more than any window (prefetch <= 65535 per epoch).
constexpr int64 kMaxWindowEntries = int64(1) << 22;
const std::string kWindowKey = "window";

uint64 mix(uint64 x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Two independent 64-bit running hashes of a sequence of length-prefixed byte strings.
class IdHasher {
 public:
  void add(const void* data, size_t len) {
    word(len);
    const unsigned char* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
      uint64 w;
      memcpy(&w, p + i, 8);
      word(w);
    }
    uint64 tail = 0;
    memcpy(&tail, p + i, len - i);
    word(tail);
  }
  void add(amqp_bytes_t b) { add(b.bytes, b.len); }
  RabbitMessageId finish() const { return {mix(a_), mix(b_ ^ 0x5851f42d4c957f2dULL)}; }

 private:
  void word(uint64 w) {
    a_ = (a_ ^ mix(w)) * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    b_ = (b_ + mix(w ^ 0xd6e8feb86659fd93ULL)) * 0xff51afd7ed558ccdULL ^ (b_ >> 29);
  }
  uint64 a_ = 0x243f6a8885a308d3ULL, b_ = 0x13198a2e03707344ULL;
};

// The identity of a delivered message (see rabbitmq_source.hpp).
RabbitMessageId message_id(const amqp_envelope_t& env) {
  IdHasher h;
  const amqp_basic_properties_t& p = env.message.properties;
  h.add(env.exchange);
  h.add(env.routing_key);
  amqp_bytes_t none = {0, nullptr};
  h.add(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG ? p.message_id : none);
  h.add(p._flags & AMQP_BASIC_CORRELATION_ID_FLAG ? p.correlation_id : none);
  uint64 ts = p._flags & AMQP_BASIC_TIMESTAMP_FLAG ? p.timestamp + 1 : 0;
  h.add(&ts, sizeof ts);
  h.add(env.message.body);
  return h.finish();
}

}  // namespace

RabbitSource::RabbitSource(const TableSpec& spec)
    : table_(spec.name),
      queue_(get_option(spec.table_options, "queue").value_or("")),
      endpoint_(rabbitmq_endpoint(spec)),
      prefetch_(int(option_int(spec.table_options, "prefetch", kRabbitDefaultPrefetch))),
      max_message_bytes_(
          option_int(spec.table_options, "max_message_size", kRabbitDefaultMaxMessageBytes)),
      decoder_(make_row_decoder(spec)),
      bad_data_(spec) {
  label_ = "rabbitmq source " + table_ + " (queue \"" + queue_ + "\")";
}

RabbitSource::~RabbitSource() {
  waker_.reset();  // before the connection whose socket it polls
  conn_.reset();
}

void RabbitSource::open(const RuntimeInfo&) {
  latch_ = MyLatch;
  conn_ = std::make_unique<RabbitConnection>(endpoint_);
  waker_ = std::make_unique<SocketWaker>(latch_);
}

// Connects, sets the prefetch and starts consuming; on failure schedules the next attempt.
bool RabbitSource::try_connect() {
  RabbitFailure why;
  bool ok = conn_->connect(&why);
  if (ok) {
    amqp_connection_state_t c = conn_->state();
    amqp_basic_qos(c, kRabbitChannel, 0, uint16_t(prefetch_), 0);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      why = conn_->failure(r, "set the prefetch");
      ok = false;
    }
  }
  if (ok) {
    amqp_basic_consume(conn_->state(), kRabbitChannel, amqp_cstring_bytes(queue_.c_str()),
                       amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_->state());
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      why = conn_->failure(r, "consume queue \"" + queue_ + "\"");
      ok = false;
    }
  }
  if (!ok) {
    conn_->drop();
    if (why.permanent) fail_permanent(why);
    next_attempt_ = backoff_.failed(GetCurrentTimestamp());
    status_ = "cannot reach " + endpoint_.display() + ", retrying (attempt " +
              std::to_string(backoff_.attempts()) + "): " + why.text;
    return false;
  }
  if (ever_connected_ || backoff_.attempts() > 0)
    pg::call([&] {
      ereport(LOG, (errmsg("arroyo_stream: %s: connected to %s", label_.c_str(),
                           endpoint_.display().c_str())));
    });
  ever_connected_ = true;
  backoff_.succeeded();
  last_tag_ = acked_tag_ = 0;
  status_ = consuming_status();
  return true;
}

std::string RabbitSource::consuming_status() const {
  std::string s = "consuming queue \"" + queue_ + "\" on " + endpoint_.display();
  if (skipped_ > 0)
    s += "; skipped " + std::to_string(skipped_) + " redelivered message" +
         (skipped_ > 1 ? "s" : "") + " already committed";
  return s;
}

PollResult RabbitSource::poll(Batch& out) {
  if (!conn_->connected()) {
    if (GetCurrentTimestamp() < next_attempt_) return PollResult::idle(next_attempt_);
    if (!try_connect()) return PollResult::idle(next_attempt_);
  }
  waker_->disarm();
  TimestampTz now = GetCurrentTimestamp();
  int per_message = decoder_->max_rows_per_message();
  int before = out.size();
  int64 skipped_before = skipped_;
  bool drained = false;
  while (out.size() + per_message <= out.capacity()) {
    if (!read_one(out, now)) {
      drained = true;
      break;
    }
  }
  bool any = out.size() > before || skipped_ > skipped_before;
  if (skipped_ > skipped_before) status_ = consuming_status();
  if (!conn_->connected()) return any ? PollResult::data() : PollResult::idle(next_attempt_);
  amqp_connection_state_t c = conn_->state();
  if (!drained || amqp_data_in_buffer(c) || amqp_frames_enqueued(c))
    SetLatch(latch_);  // more is there already
  else
    waker_->arm(conn_->fd());
  return any ? PollResult::data() : PollResult::idle();
}

bool RabbitSource::read_one(Batch& out, TimestampTz now) {
  amqp_connection_state_t c = conn_->state();
  amqp_maybe_release_buffers(c);
  struct timeval zero = {0, 0};
  amqp_envelope_t env;
  amqp_rpc_reply_t r = amqp_consume_message(c, &env, &zero, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    struct Destroy {
      amqp_envelope_t& env;
      ~Destroy() { amqp_destroy_envelope(&env); }
    } destroy{env};
    take(env, out, now);
    return true;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
    return false;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    amqp_frame_t frame;
    int status = amqp_simple_wait_frame_noblock(c, &frame, &zero);
    if (status == AMQP_STATUS_TIMEOUT) return false;
    if (status != AMQP_STATUS_OK) {
      lost({std::string("could not read from the connection: ") + amqp_error_string2(status)});
      return false;
    }
    handle_frame(frame);
    return conn_->connected();
  }
  lost(conn_->failure(r, "read from the connection"));
  return false;
}

// Takes one delivery: skips a redelivered message the window covers, else decodes it.
void RabbitSource::take(const amqp_envelope_t& env, Batch& out, TimestampTz now) {
  last_tag_ = env.delivery_tag;
  RabbitMessageId id = message_id(env);
  epoch_.push_back(id);
  window_dirty_ = true;
  if (env.redelivered) {
    auto it = skip_.find(id);
    if (it != skip_.end()) {
      if (--it->second == 0) skip_.erase(it);
      skipped_++;
      return;
    }
  } else {
    skip_.clear();  // every requeued message came before this one
  }
  const amqp_basic_properties_t& p = env.message.properties;
  TimestampTz time = now;
  if ((p._flags & AMQP_BASIC_TIMESTAMP_FLAG) && p.timestamp <= uint64(PG_INT64_MAX / 2000000))
    time = TimestampTz(p.timestamp) * USECS_PER_SEC - pg::kUnixToPostgresUs;
  bad_data_.decode(
      out,
      [&] {
        if (int64(env.message.body.len) > max_message_bytes_)
          pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                   "message of " + std::to_string(env.message.body.len) +
                       " bytes exceeds max_message_size (" + std::to_string(max_message_bytes_) +
                       " bytes)");
        decoder_->decode(static_cast<const char*>(env.message.body.bytes), env.message.body.len,
                         out, time);
      },
      [&] {
        return "bad data in message " + std::to_string(env.delivery_tag) + " of this connection " +
               "from queue \"" + queue_ + "\"";
      });
}

// A frame other than a delivery: the reply to an ack's basic.qos, or the end of the consumer.
void RabbitSource::handle_frame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_QOS_OK_METHOD:
      if (!unconfirmed_.empty()) {
        unconfirmed_.pop_front();  // the broker has processed that ack
        window_dirty_ = true;
      }
      return;
    case AMQP_BASIC_CANCEL_METHOD:
      fail_permanent(
          {"the server cancelled the consumer (was queue \"" + queue_ + "\" deleted?)", true});
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
      RabbitFailure why = RabbitConnection::closed_by_server(frame);
      if (why.permanent) fail_permanent(why);
      lost(why);
      return;
    }
    default: return;
  }
}

// The connection is gone: the broker requeues every unacked message, and those whose results
// are committed (or will be with this epoch) join the window.
void RabbitSource::lost(const RabbitFailure& why) {
  if (why.permanent) fail_permanent(why);
  waker_->disarm();
  conn_->drop();
  for (const auto& group : unconfirmed_)
    for (const RabbitMessageId& id : group) skip_[id]++;
  for (const RabbitMessageId& id : epoch_) skip_[id]++;
  unconfirmed_.clear();
  epoch_.clear();
  last_tag_ = acked_tag_ = 0;
  next_attempt_ = backoff_.failed(GetCurrentTimestamp());
  status_ = "disconnected from " + endpoint_.display() + ", reconnecting: " + why.text;
  pg::call(
      [&] { ereport(LOG, (errmsg("arroyo_stream: %s: %s", label_.c_str(), status_.c_str()))); });
}

void RabbitSource::fail_permanent(const RabbitFailure& why) {
  pg::fail(ERRCODE_FDW_ERROR, label_ + ": " + why.text);
}

// Acks every message taken so far, now that their results have committed, and asks for a
// qos-ok that tells when the broker has processed the ack.
void RabbitSource::committed() {
  if (!conn_ || !conn_->connected() || last_tag_ <= acked_tag_) return;
  amqp_connection_state_t c = conn_->state();
  int status = amqp_basic_ack(c, kRabbitChannel, last_tag_, 1);
  if (status == AMQP_STATUS_OK) {
    amqp_basic_qos_t qos = {0, uint16_t(prefetch_), 0};
    status = amqp_send_method(c, kRabbitChannel, AMQP_BASIC_QOS_METHOD, &qos);
  }
  if (status != AMQP_STATUS_OK) {
    lost({std::string("could not ack: ") + amqp_error_string2(status)});
    return;
  }
  acked_tag_ = last_tag_;
  unconfirmed_.push_back(std::move(epoch_));
  epoch_.clear();
  waker_->arm(conn_->fd());  // the qos-ok wakes the worker
}

int64 RabbitSource::state_bytes() const {
  size_t n = epoch_.size() + skip_.size();
  for (const auto& group : unconfirmed_) n += group.size();
  return int64(n * sizeof(RabbitMessageId));
}

// Writes the window, when it changed: part 0, key "window", value the count of distinct
// identities, then per identity its two halves and how many times it occurs.
void RabbitSource::checkpoint(StateWriter& w) {
  if (!window_dirty_) return;
  std::map<RabbitMessageId, int64> window = skip_;
  for (const auto& group : unconfirmed_)
    for (const RabbitMessageId& id : group) window[id]++;
  for (const RabbitMessageId& id : epoch_) window[id]++;
  StateEncoder value;
  value.put_int(int64(window.size()));
  for (const auto& [id, count] : window) {
    value.put_int(int64(id.hi));
    value.put_int(int64(id.lo));
    value.put_int(count);
  }
  w.put(0, kWindowKey, value.bytes());
  window_dirty_ = false;
}

// Takes back the window: its messages are skipped if they are redelivered.
void RabbitSource::restore(const StateEntry& e) {
  std::string what = "redelivery window of " + label_;
  StateDecoder value(e.value.data(), e.value.size(), what);
  if (e.part != 0 || e.key != kWindowKey) value.corrupt("unexpected entry");
  int64 n = value.get_int();
  if (n < 0 || n > kMaxWindowEntries) value.corrupt(std::to_string(n) + " entries");
  skip_.clear();
  for (int64 i = 0; i < n; i++) {
    RabbitMessageId id;
    id.hi = uint64(value.get_int());
    id.lo = uint64(value.get_int());
    int64 count = value.get_int();
    if (count <= 0 || count > kMaxWindowEntries) value.corrupt("count " + std::to_string(count));
    skip_[id] = count;
  }
  value.expect_end();
}

void RabbitSource::close() {
  waker_.reset();
  if (conn_) conn_->close();  // unacked messages (none after a final commit) are requeued
}

}  // namespace arroyo
