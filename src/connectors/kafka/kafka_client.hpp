// The parts a kafka source and sink share: one librdkafka client built from a table's options,
// what librdkafka reports through callbacks, and a thread that watches the topic's metadata.
//
// Threads: librdkafka runs its own threads, and TopicWatcher runs one more. None of them calls
// PostgreSQL: callbacks only record into this object under a mutex (librdkafka serves most of
// them inside our own poll calls), and the only PostgreSQL function another thread touches is
// SetLatch on the worker's latch, which PostgreSQL 15 allows from any thread.
#pragma once

#include "connectors/kafka/kafka_options.hpp"

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace arroyo {

// An error librdkafka reported, its text already redacted.
struct KafkaError {
  rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string text;
  explicit operator bool() const { return code != RD_KAFKA_RESP_ERR_NO_ERROR; }
};

// Errors that retrying will not fix: the pipeline fails on them rather than waiting.
bool kafka_error_is_permanent(rd_kafka_resp_err_t code);
// The permanent errors that mean the topic (or partition) does not exist.
bool kafka_error_is_missing_topic(rd_kafka_resp_err_t code);
// Throws `Kafka topic "<topic>" does not exist` with `where` ("<label>: <reason>") as detail.
[[noreturn]] void fail_missing_topic(const std::string& topic, const std::string& where);

class KafkaClient {
 public:
  // Creates a consumer or producer. `label` names it in messages ("kafka source \"orders\"").
  // `own` are the connector's properties, applied after the user's.
  KafkaClient(rd_kafka_type_t type, const KafkaClientConfig& config,
              const std::vector<std::pair<std::string, std::string>>& own, std::string label);
  // Destroys the librdkafka handle, waiting at most 10 seconds for its threads to end.
  ~KafkaClient();
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;

  rd_kafka_t* handle() const { return rk_; }
  const std::string& label() const { return label_; }
  std::string redact(const std::string& text) const { return kafka_redact(text, secrets_); }

  // Writes the log lines librdkafka produced since the last call to the server log.
  void report_logs();
  // The last error librdkafka reported through its error callback since the last call.
  KafkaError take_error();
  // The first failed delivery report since the client started, and how many failed (producer).
  KafkaError delivery_failure(int64* count);
  // How many messages were delivered since the client started (producer).
  int64 delivered();
  // For each partition, the offset after the last message delivered there since the last call
  // (producer).
  std::map<int32, int64> take_delivered_ends();
  // The last failed offset commit since the last call (consumer).
  KafkaError take_commit_failure();

 private:
  // What the callbacks record. It is shared with the thread that destroys the handle, so it
  // outlives a handle whose destruction had to be abandoned.
  struct Reports {
    std::vector<std::string> secrets;
    std::mutex mutex;                              // guards everything below
    std::deque<std::pair<int, std::string>> logs;  // (syslog level, line), bounded
    int64 dropped_logs = 0;
    KafkaError error;
    KafkaError delivery_error;
    int64 delivery_failures = 0;
    int64 delivered = 0;
    std::map<int32, int64> delivered_ends;
    KafkaError commit_error;
  };

  static void on_log(const rd_kafka_t* rk, int level, const char* facility,
                     const char* text) noexcept;
  static void on_error(rd_kafka_t* rk, int code, const char* reason, void* opaque) noexcept;
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque) noexcept;
  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t code,
                        rd_kafka_topic_partition_list_t* offsets, void* opaque) noexcept;

  std::string label_;
  std::vector<std::string> secrets_;
  std::shared_ptr<Reports> reports_;
  rd_kafka_t* rk_ = nullptr;
};

// Whether the cluster answered at last word, as a source or sink sees it: they report every
// sign either way, and each change is logged once ("<label>: cannot reach the Kafka cluster,
// retrying: <why>", "<label>: reached the Kafka cluster again"); librdkafka keeps retrying.
class ClusterReachability {
 public:
  bool reachable() const { return reachable_; }
  // The cluster could not be reached; true (and logged) if it could until now.
  bool lost(const std::string& label, const std::string& why);
  // The cluster answered; true (and logged) if it could not be reached until now.
  bool regained(const std::string& label);

 private:
  bool reachable_ = true;
};

// What the cluster last said about a topic.
struct TopicState {
  enum Kind { Unknown, Ready, Missing, Unreachable } kind = Unknown;
  int partitions = 0;              // Ready: the topic's partition count
  std::vector<int64> end_offsets;  // Ready, if asked for: each partition's end at that time
  std::string error;               // Missing/Unreachable: librdkafka's (redacted) reason
  uint64 version = 0;              // grows at every change
};

// Fetches a topic's metadata on its own thread: at once, then every `refresh_ms` (every second
// while the cluster cannot be reached), setting the worker's latch whenever the answer changes.
// With `want_end_offsets` the first successful answer also carries every partition's end offset
// and the watcher then stops; with `until_ready` it stops after the first successful answer.
class TopicWatcher {
 public:
  TopicWatcher(KafkaClient& client, std::string topic, Latch* latch, int refresh_ms,
               bool want_end_offsets, bool until_ready);
  ~TopicWatcher();
  TopicWatcher(const TopicWatcher&) = delete;
  TopicWatcher& operator=(const TopicWatcher&) = delete;

  TopicState state();

 private:
  void run();
  TopicState fetch();
  void publish(TopicState next);

  KafkaClient& client_;
  std::string topic_;
  Latch* latch_;
  int refresh_ms_;
  bool want_end_offsets_, until_ready_;
  rd_kafka_topic_t* rkt_ = nullptr;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  TopicState state_;
  std::thread thread_;
};

// Starts a std::thread with every signal blocked, so that signals keep going to the worker's
// own thread (PostgreSQL's handlers run there).
std::thread start_thread_without_signals(std::function<void()> body);

}  // namespace arroyo
