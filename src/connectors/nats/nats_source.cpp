// The nats source. A NatsReader thread receives messages (a core subscription, or pulls from
// an ephemeral JetStream consumer) into a bounded queue; poll() decodes them into rows in the
// worker. JetStream: the checkpoint holds the next stream sequence to read, and a restarted
// pipeline's consumer starts exactly there, so every message is read once (exactly-once with
// the pipeline's checkpoints). Core subjects have no history: at-most-once.
#include "connectors/nats/nats.hpp"
#include "connectors/nats/nats_client.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "pg/time.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

namespace arroyo {

namespace {

class NatsSource : public Source {
 public:
  explicit NatsSource(const TableSpec& spec)
      : config_(nats_source_config(spec)), decoder_(make_row_decoder(spec)), bad_data_(spec) {
    label_ = "nats source " + spec.name +
             (config_.jetstream ? " (stream \"" + config_.stream + "\")"
                                : " (subject \"" + config_.subject + "\")");
    connection_config_ = nats_connection_config(spec, label_);
  }

  ~NatsSource() override { shut_down(); }

  void open(const RuntimeInfo&) override {
    Latch* latch = MyLatch;
    connection_ = std::make_unique<NatsConnection>(connection_config_);
    reader_ = std::make_unique<NatsReader>(config_, *connection_, [latch] { SetLatch(latch); });
    nats_track(this, [this] { shut_down(); });
  }

  PollResult poll(Batch& out) override {
    if (!started_) {  // after restore(), which may set where to start
      reader_->start(next_seq_);
      started_ = true;
    }
    std::string why;
    if (reader_->failed(&why))
      pg::fail(why.find("does not exist") != std::string::npos ? ERRCODE_FDW_TABLE_NOT_FOUND
                                                               : ERRCODE_FDW_ERROR,
               label_ + ": " + why);
    if (config_.jetstream && next_seq_ == 0) next_seq_ = reader_->resolved_start();
    messages_.clear();
    size_t room = size_t((out.capacity() - out.size()) / decoder_->max_rows_per_message());
    reader_->take(messages_, room);
    if (messages_.empty()) return reader_->reached_end() ? PollResult::ended() : PollResult::idle();
    for (NatsMessage& m : messages_) {
      message_number_++;
      bad_data_.decode(
          out,
          [&] {
            decoder_->decode(m.payload.data(), m.payload.size(), out,
                             m.unix_us - pg::kUnixToPostgresUs);
          },
          [&] { return where(m); });
      if (config_.jetstream) next_seq_ = m.seq + 1;
    }
    messages_.clear();
    return PollResult::data();
  }

  int64 bad_rows() const override { return bad_data_.bad_rows(); }

  std::string status() const override {
    if (!connection_ || !started_) return "connecting";
    std::string r = reader_->status();
    if (!r.empty()) return r;
    std::string c = connection_->status();
    if (c != "connected") return c;
    std::string s;
    if (!config_.jetstream) {
      s = "reading subject \"" + config_.subject + "\"";
      if (int64_t d = reader_->dropped())
        s += ", " + std::to_string(d) + " messages dropped (the source fell behind)";
    } else {
      s = "reading stream \"" + config_.stream + "\"";
      if (next_seq_) s += ", next sequence " + std::to_string(next_seq_);
      if (config_.stop_at_latest && reader_->reached_end()) s += ", at its end";
    }
    std::string error = connection_->async_error();
    if (!error.empty()) s += "; the server reported: " + error;
    return s;
  }

  void close() override { shut_down(); }

  // JetStream: part 0, key 0, value the next stream sequence to read (once known).
  void checkpoint(StateWriter& w) override {
    if (!config_.jetstream || next_seq_ == 0 || next_seq_ == checkpointed_) return;
    StateEncoder key, value;
    key.put_int(0);
    value.put_int(int64(next_seq_));
    w.put(0, key.bytes(), value.bytes());
    checkpointed_ = next_seq_;
  }

  void restore(const StateEntry& e) override {
    std::string what = "position of " + label_;
    StateDecoder key(e.key.data(), e.key.size(), what);
    StateDecoder value(e.value.data(), e.value.size(), what);
    int64 k = key.get_int();
    int64 seq = value.get_int();
    key.expect_end();
    value.expect_end();
    if (!config_.jetstream || e.part != 0 || k != 0 || seq < 1)
      key.corrupt("stream sequence " + std::to_string(seq));
    next_seq_ = uint64_t(seq);
    checkpointed_ = next_seq_;
  }

 private:
  // Stops the reader and closes the connection (PostgreSQL-free: also runs at exit).
  void shut_down() {
    nats_untrack(this);
    if (reader_) reader_->stop();
    if (connection_) connection_->close();
  }

  // "bad data in stream "ORDERS" sequence 7 (subject "orders.new")", or for core subjects
  // "bad data in message 3 on subject "orders.new"" (counted over the run).
  std::string where(const NatsMessage& m) const {
    if (config_.jetstream)
      return "bad data in stream \"" + config_.stream + "\" sequence " + std::to_string(m.seq) +
             " (subject \"" + m.subject + "\")";
    return "bad data in message " + std::to_string(message_number_) + " on subject \"" + m.subject +
           "\"";
  }

  NatsSourceConfig config_;
  NatsConnectionConfig connection_config_;
  std::string label_;
  std::unique_ptr<RowDecoder> decoder_;
  BadData bad_data_;
  std::unique_ptr<NatsConnection> connection_;
  std::unique_ptr<NatsReader> reader_;
  std::vector<NatsMessage> messages_;
  bool started_ = false;
  uint64_t next_seq_ = 0;  // JetStream: the next sequence to read (0: not known yet)
  uint64_t checkpointed_ = 0;
  int64 message_number_ = 0;
};

}  // namespace

std::unique_ptr<Source> make_nats_source(const TableSpec& spec) {
  return std::make_unique<NatsSource>(spec);
}

}  // namespace arroyo
