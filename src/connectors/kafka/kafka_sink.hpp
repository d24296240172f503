// The kafka sink: one message per row, the value in the table's format, the key from
// sink.key_field, the timestamp the row's event time. Delivery is at least once: librdkafka retries failed sends until
// message.timeout.ms, commit() waits until every message written so far is acknowledged, and
// a message that could not be delivered fails the pipeline (never silently lost).
#pragma once

#include "connectors/kafka/kafka_client.hpp"
#include "formats/format.hpp"
#include "formats/json.hpp"

#include <memory>

namespace arroyo {

class KafkaSink : public Sink {
 public:
  explicit KafkaSink(const TableSpec& spec);
  ~KafkaSink() override;

  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }
  void open(const RuntimeInfo& info) override;
  void write(const Batch& rows) override;
  void commit() override;
  void close() override;

 private:
  void send(const EncodedMessage& m);
  void produce(const char* value, size_t value_len, const char* key, size_t key_len,
               TimestampTz time);
  // Renders the key column of a row into key_; false for a NULL key.
  bool encode_key(const Datum* values, const bool* nulls);
  void check_client();
  void note_unreachable(const std::string& why);
  void note_reachable();
  void shut_down(bool purge);

  std::string table_, topic_, label_;
  KafkaClientConfig config_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;  // send(), for the encoder
  OwnedMemoryContext context_;  // owns key_output_'s cache
  int key_index_ = -1;          // attnum - 1 of sink.key_field, or -1
  bool key_bytea_ = false;
  bool key_to_utf8_ = false;
  FmgrInfo key_output_;

  std::unique_ptr<KafkaClient> client_;
  rd_kafka_topic_t* rkt_ = nullptr;
  std::unique_ptr<TopicWatcher> watcher_;
  uint64 seen_version_ = 0;
  bool reachable_ = true;
  int64 delivered_ = 0;  // delivery reports seen so far
  std::string key_;
};

}  // namespace arroyo
