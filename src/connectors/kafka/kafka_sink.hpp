// The kafka sink: one message per row, the value in the table's format, the key from
// sink.key_field, the timestamp the row's event time.
//
// sink.commit_mode 'at_least_once' (the default): librdkafka retries failed sends until
// message.timeout.ms, commit() waits until every message written so far is acknowledged, and
// a message that could not be delivered fails the pipeline (never silently lost).
//
// sink.commit_mode 'exactly_once' (kafka_sink_exactly_once.cpp): messages are held back, written
// into the pipeline's checkpoint (an outbox), and produced only after that checkpoint has
// committed, in a Kafka transaction; a restart re-sends exactly the outbox messages that a
// read_committed reader of the topic does not see. README "Exactly-once Kafka sink".
#pragma once

#include "connectors/kafka/kafka_client.hpp"
#include "formats/format.hpp"
#include "formats/json.hpp"

#include <functional>
#include <map>
#include <memory>
#include <set>

namespace arroyo {

class StateDecoder;

class KafkaSink : public Sink {
 public:
  explicit KafkaSink(const TableSpec& spec);
  ~KafkaSink() override;

  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }
  void open(const RuntimeInfo& info) override;
  void write(const Batch& rows) override;
  void commit() override;
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism) override;
  void committed() override;
  void close() override;

 private:
  // One message held for an exactly-once delivery.
  struct HeldMessage {
    bool has_key = false, has_value = false;
    std::string key, value;
    int64 millis = 0;
  };

  void send(const EncodedMessage& m);
  void produce(const char* value, size_t value_len, const char* key, size_t key_len, int64 millis,
               const std::string* header = nullptr);
  static int64 to_unix_millis(TimestampTz time);

  // exactly_once (kafka_sink_exactly_once.cpp)
  void init_transactions();
  void recover();
  void take_over_inherited();
  void fence(const std::string& transactional_id);
  std::string txn_id_of(int worker, int parallelism) const;
  static void read_outbox_chunk(StateDecoder& d, std::vector<HeldMessage>& messages);
  std::set<std::pair<int64, int64>> scan_delivered();
  int topic_partitions();
  std::map<int32, int64> end_offsets(int partitions);
  void deliver_outbox(const std::set<std::pair<int64, int64>>& skip);
  void run_transaction_step(const char* what,
                            const std::function<rd_kafka_error_t*(int timeout_ms)>& step);
  std::string header_for(int64 seq, size_t index) const;
  void write_outbox(StateWriter& w, int64 seq, const std::vector<HeldMessage>& messages);
  // Renders the key column of a row into key_; false for a NULL key.
  bool encode_key(const Datum* values, const bool* nulls);
  void check_client();
  void note_unreachable(const std::string& why);
  void note_reachable();
  void shut_down(bool purge);

  std::string table_, topic_, label_;
  KafkaClientConfig config_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;         // send(), for the encoder
  OwnedMemoryContext context_;  // owns key_output_'s cache
  int key_index_ = -1;          // attnum - 1 of sink.key_field, or -1
  bool key_bytea_ = false;
  bool key_to_utf8_ = false;
  FmgrInfo key_output_;

  std::unique_ptr<KafkaClient> client_;
  rd_kafka_topic_t* rkt_ = nullptr;
  std::unique_ptr<TopicWatcher> watcher_;
  uint64 seen_version_ = 0;
  ClusterReachability reachability_;
  int64 delivered_ = 0;  // delivery reports seen so far
  std::string key_;

  // exactly_once
  // The header naming each message's epoch: "<transactional id>/<epoch>/<index in epoch>".
  static constexpr const char* kExactlyOnceHeader = "arroyo_stream_txn";
  bool exactly_once_ = false;
  std::string txn_id_;                // transactional.id, stable per pipeline
  std::vector<HeldMessage> pending_;  // written since the last checkpoint
  // Checkpointed (committed or about to be) and not yet delivered, by epoch sequence number.
  std::map<int64, std::vector<HeldMessage>> outbox_;
  std::vector<int64> delivered_parts_;  // delivered epochs whose outbox entries are to go
  int64 next_seq_ = 1;                  // the next epoch's sequence number
  int64 delivered_seq_ = 0;             // every epoch up to this one is delivered
  std::map<int32, int64> scan_from_;    // per partition: our undelivered messages lie after
  bool meta_dirty_ = false;
  bool recovered_ = false;
  // The transactional id in the headers being written or looked for: txn_id_, but an
  // inherited old worker's while its outbox is recovered after a rescale.
  std::string header_id_;
  std::string txn_base_;  // the pipeline's id, without the worker's "-<subtask>"

  // Rescaling (exactly_once): the checkpoint's state of each old worker this one inherits
  // (w % parallelism == subtask_index), taken over before anything is delivered.
  struct Inherited {
    int64 next_seq = 1, delivered_seq = 0;
    std::map<int32, int64> scan_from;
    std::map<int64, std::vector<HeldMessage>> outbox;  // by epoch
  };
  int rescaled_from_ = 0;  // the checkpoint's parallelism, when it was another
  std::map<int32, Inherited> inherited_;
};

}  // namespace arroyo
