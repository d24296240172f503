// The nats sink: one message per row (per change, with debezium_json), its payload in the
// table's format, published to `subject`.
//
//  * Core NATS (no `stream`): commit() flushes the connection and waits for the server's PONG,
//    so every message reached the server before the pipeline's transaction commits. The server
//    forwards it to the subscribers connected at that moment; nothing is stored.
//  * JetStream (`stream`): each message is published asynchronously, expecting that stream to
//    store it, with a Nats-Msg-Id header "<pipeline>-<n>", n counting the sink's messages over
//    the pipeline's life (the count is checkpointed). commit() waits until the stream has
//    acknowledged every message; publishes that timed out are sent again. A restarted
//    pipeline writes again the rows after its last checkpoint, in the same order with the same
//    ids, and the stream drops those it already holds: exactly-once within the stream's
//    duplicate window (2 minutes by default).
#include "connectors/nats/nats.hpp"
#include "connectors/nats/nats_client.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

extern "C" {
#include "access/xlog.h"
}

#include <chrono>
#include <thread>

namespace arroyo {

namespace {

constexpr int64_t kFlushSliceMs = 1000;
constexpr int64_t kPublishAckWaitMs = 10000;  // an unacknowledged JetStream publish is resent
constexpr int64_t kMaxPendingPublishes = 4096;
constexpr int64 kWaitLogIntervalUs = 10 * USECS_PER_SEC;

class NatsSink : public Sink {
 public:
  explicit NatsSink(const TableSpec& spec) : config_(nats_sink_config(spec)) {
    label_ = "nats sink " + spec.name + " (subject \"" + config_.subject + "\"" +
             (config_.stream.empty() ? "" : ", stream \"" + config_.stream + "\"") + ")";
    connection_config_ = nats_connection_config(spec, label_);
    encoder_ = make_row_encoder(spec);
    emit_ = [this](const EncodedMessage& m) { send(m); };
  }

  ~NatsSink() override { shut_down(); }

  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }

  void open(const RuntimeInfo& info) override {
    uint64 sysid = pg::call([] { return (uint64)GetSystemIdentifier(); });
    id_prefix_ = "arroyo_stream-" + std::to_string(sysid) + "-" + std::to_string(info.dboid) + "-" +
                 std::to_string(info.pipeline_id) + "-";
    connection_ = std::make_unique<NatsConnection>(connection_config_);
    nats_track(this, [this] { shut_down(); });
    connect();
  }

  void write(const Batch& rows) override { encoder_->encode(rows, emit_); }

  // Waits until the server has every message written so far (JetStream: stored it).
  void commit() override {
    if (!connection_) return;
    encoder_->finish(emit_);
    if (js_)
      await_acks();
    else
      flush();
  }

  // Part 0, key 0: how many messages the sink has published (the next message id).
  void checkpoint(StateWriter& w) override {
    if (config_.stream.empty() || published_ == checkpointed_) return;
    StateEncoder key, value;
    key.put_int(0);
    value.put_int(published_);
    w.put(0, key.bytes(), value.bytes());
    checkpointed_ = published_;
  }

  void restore(const StateEntry& e) override {
    StateDecoder key(e.key.data(), e.key.size(), "message count of " + label_);
    StateDecoder value(e.value.data(), e.value.size(), "message count of " + label_);
    int64 k = key.get_int();
    int64 count = value.get_int();
    key.expect_end();
    value.expect_end();
    if (e.part != 0 || k != 0 || count < 0) key.corrupt("count " + std::to_string(count));
    published_ = checkpointed_ = count;
  }

  void close() override {
    commit();
    shut_down();
  }

 private:
  // Connects (libnats then retries in the background by itself), retrying a refused first
  // attempt with backoff.
  void connect() {
    while (!connection_->open()) {
      int64_t ms = connection_->retry_delay_ms();
      log_waiting(connection_->status());
      sleep_ms(ms);
    }
    if (config_.stream.empty()) return;
    jsOptions options;
    jsOptions_Init(&options);
    options.PublishAsync.MaxPending = kMaxPendingPublishes;
    options.PublishAsync.AckHandler = on_ack;
    options.PublishAsync.AckHandlerClosure = this;
    natsStatus s = nats_without_signals(
        [&] { return natsConnection_JetStream(&js_, connection_->handle(), &options); });
    if (s != NATS_OK)
      pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not start JetStream publishing",
               natsStatus_GetText(s));
  }

  // Publishes one message, waiting while libnats' buffers are full.
  void send(const EncodedMessage& m) {
    if (m.data == nullptr)
      pg::fail(ERRCODE_FDW_ERROR, label_ + ": a message without a value cannot be published");
    if (m.len > size_t(INT32_MAX))
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
               "row of " + std::to_string(m.len) + " bytes is too large for NATS");
    for (;;) {
      natsStatus s;
      if (js_) {
        natsMsg* msg = nullptr;
        s = natsMsg_Create(&msg, config_.subject.c_str(), nullptr, m.data, int(m.len));
        std::string id = id_prefix_ + std::to_string(published_);
        if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", id.c_str());
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.ExpectStream = config_.stream.c_str();
        po.MaxWait = kPublishAckWaitMs;
        if (s == NATS_OK) s = js_PublishMsgAsync(js_, &msg, &po);
        if (msg) natsMsg_Destroy(msg);  // not taken by libnats
      } else {
        s = natsConnection_Publish(connection_->handle(), config_.subject.c_str(), m.data,
                                   int(m.len));
      }
      if (s == NATS_OK) break;
      if (s == NATS_TIMEOUT || s == NATS_INSUFFICIENT_BUFFER) {  // full: wait, try again
        check_failures();
        log_waiting("publishing is stalled: " + connection_->status());
        sleep_ms(100);
        continue;
      }
      if (s == NATS_MAX_PAYLOAD)
        pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                 "row of " + std::to_string(m.len) +
                     " bytes exceeds the NATS server's maximum payload",
                 label_ + ".", "Raise max_payload in the NATS server's configuration.");
      pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not publish: " + natsStatus_GetText(s));
    }
    published_++;
  }

  // Core: flushes and waits for the server's PONG, however long the server is away.
  void flush() {
    for (;;) {
      natsStatus s = natsConnection_FlushTimeout(connection_->handle(), kFlushSliceMs);
      if (s == NATS_OK) return;
      if (s == NATS_CONNECTION_CLOSED)
        pg::fail(ERRCODE_FDW_ERROR, label_ + ": the connection was closed");
      log_waiting("waiting for the NATS server: " + connection_->status());
      pg::call([] { CHECK_FOR_INTERRUPTS(); });
    }
  }

  // JetStream: waits for every publish acknowledgement, resending those that timed out or
  // found no stream listening (a server restarting); fails on a refusal.
  void await_acks() {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = kFlushSliceMs;
    for (;;) {
      natsStatus s = js_PublishAsyncComplete(js_, &po);
      check_failures();
      std::vector<natsMsg*> again;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        again.swap(retry_);
      }
      if (s == NATS_OK && again.empty()) return;
      if (!again.empty()) {
        log_waiting("resending " + std::to_string(again.size()) +
                    " unacknowledged message(s): " + connection_->status());
        sleep_ms(500);
      } else {
        log_waiting("waiting for acknowledgements: " + connection_->status());
        pg::call([] { CHECK_FOR_INTERRUPTS(); });
      }
      for (size_t i = 0; i < again.size(); i++) {
        jsPubOptions resend;
        jsPubOptions_Init(&resend);
        resend.ExpectStream = config_.stream.c_str();
        resend.MaxWait = kPublishAckWaitMs;
        natsStatus r;
        while ((r = js_PublishMsgAsync(js_, &again[i], &resend)) == NATS_TIMEOUT) sleep_ms(100);
        if (r != NATS_OK) {
          for (size_t j = i; j < again.size(); j++)
            if (again[j]) natsMsg_Destroy(again[j]);
          pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not publish: " + natsStatus_GetText(r));
        }
      }
    }
  }

  // Called by libnats (on its thread) for every acknowledged or failed publish.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<NatsSink*>(closure);
    if (pae == nullptr) {
      natsMsg_Destroy(msg);
      return;
    }
    std::lock_guard<std::mutex> lock(self->mutex_);
    if (pae->ErrCode == 0 && (pae->Err == NATS_TIMEOUT || pae->Err == NATS_NO_RESPONDERS ||
                              pae->Err == NATS_CONNECTION_DISCONNECTED)) {
      self->retry_.push_back(msg);  // resent by await_acks()
      return;
    }
    if (self->failure_.empty())
      self->failure_ = pae->ErrText && *pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
    natsMsg_Destroy(msg);
  }

  void check_failures() {
    std::string failure;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failure = failure_;
    }
    if (!failure.empty())
      pg::fail(ERRCODE_FDW_ERROR,
               "JetStream refused a message for stream \"" + config_.stream + "\": " + failure,
               label_ + ".");
  }

  // Logs what the sink waits for, every 10 s at most.
  void log_waiting(const std::string& what) {
    TimestampTz now = GetCurrentTimestamp();
    if (now - last_log_ < kWaitLogIntervalUs) return;
    last_log_ = now;
    pg::call(
        [&] { ereport(LOG, (errmsg("arroyo_stream: %s: %s", label_.c_str(), what.c_str()))); });
  }

  // Sleeps, still answering PostgreSQL's interrupts.
  void sleep_ms(int64_t ms) {
    for (int64_t slept = 0; slept < ms; slept += 100) {
      pg::call([] { CHECK_FOR_INTERRUPTS(); });
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(100, ms - slept)));
    }
  }

  // Closes the connection; messages never acknowledged are dropped (the transaction they
  // belong to did not commit: a restart writes them again).
  void shut_down() {
    nats_untrack(this);
    if (js_) {
      jsCtx_Destroy(js_);
      js_ = nullptr;
    }
    if (connection_) connection_->close();
    std::lock_guard<std::mutex> lock(mutex_);
    for (natsMsg* m : retry_) natsMsg_Destroy(m);
    retry_.clear();
  }

  NatsSinkConfig config_;
  NatsConnectionConfig connection_config_;
  std::string label_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;
  std::unique_ptr<NatsConnection> connection_;
  jsCtx* js_ = nullptr;
  std::string id_prefix_;
  int64 published_ = 0;  // messages published over the pipeline's life (JetStream: the next id)
  int64 checkpointed_ = 0;
  TimestampTz last_log_ = 0;
  std::mutex mutex_;  // guards what on_ack fills
  std::vector<natsMsg*> retry_;
  std::string failure_;
};

}  // namespace

std::unique_ptr<Sink> make_nats_sink(const TableSpec& spec) {
  return std::make_unique<NatsSink>(spec);
}

}  // namespace arroyo
