#include "connectors/kafka/kafka_client.hpp"

#include "pg/guard.hpp"

#include <algorithm>
#include <csignal>
#include <functional>
#include <memory>
#include <pthread.h>

namespace arroyo {

namespace {

constexpr size_t kMaxPendingLogs = 200;
constexpr int kMetadataTimeoutMs = 2000;
constexpr int kUnreachableRetryMs = 1000;

}  // namespace

bool kafka_error_is_permanent(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE: return true;
    default: return false;
  }
}

bool kafka_error_is_missing_topic(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
         code == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || code == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

void fail_missing_topic(const std::string& topic, const std::string& where) {
  pg::fail(ERRCODE_FDW_TABLE_NOT_FOUND, "Kafka topic \"" + topic + "\" does not exist", where + ".",
           "Create the topic first: the connector never creates topics.");
}

std::thread start_thread_without_signals(std::function<void()> body) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    std::thread t(std::move(body));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return t;
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
}

// ---------------------------------------------------------------------------------------------
// KafkaClient

KafkaClient::KafkaClient(rd_kafka_type_t type, const KafkaClientConfig& config,
                         const std::vector<std::pair<std::string, std::string>>& own,
                         std::string label)
    : label_(std::move(label)), secrets_(config.secrets), reports_(std::make_shared<Reports>()) {
  reports_->secrets = secrets_;
  std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> conf(rd_kafka_conf_new(),
                                                                          &rd_kafka_conf_destroy);
  char errstr[512];
  auto set = [&](const std::string& name, const std::string& value) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
               label_ + ": invalid Kafka client property \"" + name + "\"", redact(errstr));
  };
  for (const auto& [name, value] : config.properties) set(name, value);
  for (const auto& [name, value] : own) set(name, value);
  set("log.queue", "true");
  rd_kafka_conf_set_opaque(conf.get(), reports_.get());
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaClient::on_log);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaClient::on_error);
  if (type == RD_KAFKA_PRODUCER)
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaClient::on_delivery);
  else
    rd_kafka_conf_set_offset_commit_cb(conf.get(), &KafkaClient::on_commit);
  rk_ = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
  if (!rk_)
    pg::fail(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
             label_ + ": could not create a Kafka client", redact(errstr));
  conf.release();  // rd_kafka_new took it
  // Log lines go to the main queue, served by our own poll calls.
  rd_kafka_set_log_queue(rk_, nullptr);
}

KafkaClient::~KafkaClient() {
  if (!rk_) return;
  // rd_kafka_destroy waits for librdkafka's threads, which can hang in rare states; a worker
  // must still get to its end, so the wait is bounded and a stuck handle is left behind.
  struct Done {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
  };
  auto done = std::make_shared<Done>();
  rd_kafka_t* rk = rk_;
  std::shared_ptr<Reports> reports = reports_;  // callbacks may still use it
  try {
    std::thread t = start_thread_without_signals([rk, done, reports] {
      rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
      std::lock_guard<std::mutex> lock(done->mutex);
      done->done = true;
      done->cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(done->mutex);
    if (done->cv.wait_for(lock, std::chrono::seconds(10), [&] { return done->done; })) {
      lock.unlock();
      t.join();
    } else {
      t.detach();
      try {
        pg::call([&] {
          elog(LOG,
               "arroyo_stream: %s: librdkafka did not shut down within 10 seconds; "
               "leaving it",
               label_.c_str());
        });
      } catch (...) {
      }
    }
  } catch (...) {
    // No thread could be started: destroy here, unbounded.
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
}

// The callbacks run inside librdkafka's C code: nothing may escape them, not even bad_alloc.
void KafkaClient::on_log(const rd_kafka_t* rk, int level, const char* facility,
                         const char* text) noexcept {
  auto* r = static_cast<Reports*>(rd_kafka_opaque(rk));
  if (!r) return;
  try {
    std::lock_guard<std::mutex> lock(r->mutex);
    if (r->logs.size() >= kMaxPendingLogs) {
      r->dropped_logs++;
      return;
    }
    r->logs.emplace_back(level, std::string(facility) + ": " + text);
  } catch (...) {
  }
}

void KafkaClient::on_error(rd_kafka_t* rk, int code, const char* reason, void* opaque) noexcept {
  auto* r = static_cast<Reports*>(opaque);
  try {
    std::string text = reason ? reason : rd_kafka_err2str(rd_kafka_resp_err_t(code));
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
      text = std::string("fatal error: ") + fatal;
    }
    text = kafka_redact(text, r->secrets);
    std::lock_guard<std::mutex> lock(r->mutex);
    if (r->error.code == RD_KAFKA_RESP_ERR__FATAL) return;  // keep the fatal one
    r->error = {rd_kafka_resp_err_t(code), text};
  } catch (...) {
  }
}

void KafkaClient::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message,
                              void* opaque) noexcept {
  auto* r = static_cast<Reports*>(opaque);
  try {
    std::lock_guard<std::mutex> lock(r->mutex);
    if (!message->err) {
      r->delivered++;
      if (message->offset >= 0) {
        int64& end = r->delivered_ends[message->partition];
        end = std::max<int64>(end, message->offset + 1);
      }
      return;
    }
    if (r->delivery_failures++ == 0)
      r->delivery_error = {message->err, rd_kafka_err2str(message->err)};
  } catch (...) {
  }
}

void KafkaClient::on_commit(rd_kafka_t*, rd_kafka_resp_err_t code,
                            rd_kafka_topic_partition_list_t* offsets, void* opaque) noexcept {
  if (code == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
  if (!code && offsets)
    for (int i = 0; i < offsets->cnt && !code; i++) code = offsets->elems[i].err;
  if (!code) return;
  auto* r = static_cast<Reports*>(opaque);
  try {
    std::lock_guard<std::mutex> lock(r->mutex);
    r->commit_error = {code, rd_kafka_err2str(code)};
  } catch (...) {
  }
}

void KafkaClient::report_logs() {
  std::deque<std::pair<int, std::string>> lines;
  int64 dropped;
  {
    std::lock_guard<std::mutex> lock(reports_->mutex);
    if (reports_->logs.empty() && reports_->dropped_logs == 0) return;
    lines.swap(reports_->logs);
    dropped = reports_->dropped_logs;
    reports_->dropped_logs = 0;
  }
  for (const auto& [level, text] : lines) {
    std::string line = redact(text);
    // librdkafka uses syslog levels: errors and warnings go to the log, the rest to DEBUG1.
    // Noise: AUTOCREATE warns at every metadata refresh that an old broker cannot be told not
    // to create topics (the connector checks that its topic exists itself), and CONFWARN that
    // a server's producer properties do not apply to its consumers, or the other way round.
    bool noise = text.rfind("AUTOCREATE:", 0) == 0 ||
                 (text.rfind("CONFWARN:", 0) == 0 &&
                  text.find(" property and will be ignored by this ") != std::string::npos);
    int elevel = level <= 4 && !noise ? LOG : DEBUG1;
    pg::call([&] {
      ereport(elevel, (errmsg("arroyo_stream: %s: librdkafka: %s", label_.c_str(), line.c_str())));
    });
  }
  if (dropped > 0)
    pg::call([&] {
      ereport(LOG, (errmsg("arroyo_stream: %s: %lld librdkafka log lines were dropped",
                           label_.c_str(), (long long)dropped)));
    });
}

KafkaError KafkaClient::take_error() {
  std::lock_guard<std::mutex> lock(reports_->mutex);
  KafkaError e = std::move(reports_->error);
  reports_->error = {};
  return e;
}

KafkaError KafkaClient::delivery_failure(int64* count) {
  std::lock_guard<std::mutex> lock(reports_->mutex);
  *count = reports_->delivery_failures;
  return reports_->delivery_error;
}

int64 KafkaClient::delivered() {
  std::lock_guard<std::mutex> lock(reports_->mutex);
  return reports_->delivered;
}

std::map<int32, int64> KafkaClient::take_delivered_ends() {
  std::lock_guard<std::mutex> lock(reports_->mutex);
  std::map<int32, int64> out;
  out.swap(reports_->delivered_ends);
  return out;
}

KafkaError KafkaClient::take_commit_failure() {
  std::lock_guard<std::mutex> lock(reports_->mutex);
  KafkaError e = std::move(reports_->commit_error);
  reports_->commit_error = {};
  return e;
}

// ---------------------------------------------------------------------------------------------
// TopicWatcher

bool ClusterReachability::lost(const std::string& label, const std::string& why) {
  if (!reachable_) return false;
  reachable_ = false;
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: cannot reach the Kafka cluster, retrying: %s",
                         label.c_str(), why.c_str())));
  });
  return true;
}

bool ClusterReachability::regained(const std::string& label) {
  if (reachable_) return false;
  reachable_ = true;
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: reached the Kafka cluster again", label.c_str())));
  });
  return true;
}

TopicWatcher::TopicWatcher(KafkaClient& client, std::string topic, Latch* latch, int refresh_ms,
                           bool want_end_offsets, bool until_ready)
    : client_(client),
      topic_(std::move(topic)),
      latch_(latch),
      refresh_ms_(refresh_ms),
      want_end_offsets_(want_end_offsets),
      until_ready_(until_ready) {
  rkt_ = rd_kafka_topic_new(client_.handle(), topic_.c_str(), nullptr);
  if (!rkt_)
    pg::fail(ERRCODE_FDW_ERROR,
             client_.label() + ": could not create a handle for topic \"" + topic_ + "\"",
             rd_kafka_err2str(rd_kafka_last_error()));
  thread_ = start_thread_without_signals([this] { run(); });
}

TopicWatcher::~TopicWatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (rkt_) rd_kafka_topic_destroy(rkt_);
}

TopicState TopicWatcher::state() {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

// One metadata request (plus end offsets, if wanted). Runs on the watcher's thread.
TopicState TopicWatcher::fetch() {
  TopicState out;
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(client_.handle(), 0, rkt_, &md, kMetadataTimeoutMs);
  if (err) {
    out.kind = TopicState::Unreachable;
    out.error = rd_kafka_err2str(err);
    return out;
  }
  out.kind = TopicState::Missing;
  out.error = rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  for (int i = 0; i < md->topic_cnt; i++) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (topic_ != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (!t.err && t.partition_cnt == 0)) {
      break;
    } else if (t.err) {
      out.kind = kafka_error_is_permanent(t.err) ? TopicState::Missing : TopicState::Unreachable;
      out.error = rd_kafka_err2str(t.err);
    } else {
      out.kind = TopicState::Ready;
      out.partitions = t.partition_cnt;
      out.error.clear();
    }
  }
  rd_kafka_metadata_destroy(md);
  if (out.kind == TopicState::Ready && want_end_offsets_) {
    for (int p = 0; p < out.partitions; p++) {
      int64_t low = 0, high = 0;
      err = rd_kafka_query_watermark_offsets(client_.handle(), topic_.c_str(), p, &low, &high,
                                             kMetadataTimeoutMs);
      if (err) {
        out.kind = TopicState::Unreachable;
        out.error = rd_kafka_err2str(err);
        out.end_offsets.clear();
        return out;
      }
      out.end_offsets.push_back(high);
    }
  }
  return out;
}

void TopicWatcher::publish(TopicState next) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (next.kind == state_.kind && next.partitions == state_.partitions &&
        next.error == state_.error)
      return;
    next.version = state_.version + 1;
    state_ = std::move(next);
  }
  SetLatch(latch_);
}

void TopicWatcher::run() {
  for (;;) {
    TopicState next = fetch();
    TopicState::Kind kind = next.kind;
    publish(std::move(next));
    if (kind == TopicState::Missing) return;  // the pipeline fails on it
    if (kind == TopicState::Ready && (want_end_offsets_ || until_ready_)) return;
    std::unique_lock<std::mutex> lock(mutex_);
    int wait_ms = kind == TopicState::Ready ? refresh_ms_ : kUnreachableRetryMs;
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace arroyo
