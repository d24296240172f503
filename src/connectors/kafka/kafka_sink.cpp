#include "connectors/kafka/kafka_sink.hpp"

#include "pg/guard.hpp"
#include "pg/time.hpp"

extern "C" {
#include "access/xlog.h"
#include "mb/pg_wchar.h"
}

namespace arroyo {

namespace {

// How long librdkafka keeps retrying a message before reporting it undeliverable, unless the
// server sets message.timeout.ms (or its alias delivery.timeout.ms).
constexpr const char* kDefaultMessageTimeoutMs = "60000";
constexpr int kFlushSliceMs = 100;
constexpr int64 kWaitLogIntervalUs = 10 * USECS_PER_SEC;

bool has_property(const KafkaClientConfig& config, const char* name) {
  for (const auto& [n, v] : config.properties)
    if (n == name) return true;
  return false;
}

}  // namespace

KafkaSink::KafkaSink(const TableSpec& spec)
    : table_(spec.name),
      topic_(get_option(spec.table_options, "topic").value_or("")),
      config_(kafka_client_config(spec)),
      context_("arroyo_stream kafka sink") {
  label_ = "kafka sink " + table_ + " (topic \"" + topic_ + "\")";
  encoder_ = make_row_encoder(spec);
  emit_ = [this](const EncodedMessage& m) { send(m); };
  exactly_once_ = get_option(spec.table_options, "sink.commit_mode") ==
                  std::optional<std::string>("exactly_once");
  if (auto key = get_option(spec.table_options, "sink.key_field")) {
    const ColumnInfo* col = spec.column(*key);
    if (!col)
      pg::fail(ERRCODE_UNDEFINED_COLUMN,
               "option \"sink.key_field\" names column \"" + *key + "\", which does not exist");
    key_index_ = col->attnum - 1;
    key_bytea_ = col->type == BYTEAOID;
    pg::call([&] {
      Oid function;
      bool varlena;
      getTypeOutputInfo(col->type, &function, &varlena);
      fmgr_info_cxt(function, &key_output_, context_.get());
      key_to_utf8_ = GetDatabaseEncoding() != PG_UTF8;
    });
  }
}

KafkaSink::~KafkaSink() { shut_down(true); }

void KafkaSink::open(const RuntimeInfo& info) {
  std::vector<std::pair<std::string, std::string>> own = {{"allow.auto.create.topics", "false"}};
  if (!has_property(config_, "message.timeout.ms") && !has_property(config_, "delivery.timeout.ms"))
    own.emplace_back("message.timeout.ms", kDefaultMessageTimeoutMs);
  if (exactly_once_) {
    // One transactional id per pipeline of this cluster and database: a restarted pipeline
    // fences its previous incarnation. The system identifier tells clusters apart. In a
    // parallel pipeline each worker has its own ("-<subtask>" added), fencing its own
    // previous incarnation and recovering its own epochs; at parallelism 1 the id is the one
    // of a pipeline that has never been parallel, so its checkpoints still match it.
    uint64 sysid = pg::call([] { return (uint64)GetSystemIdentifier(); });
    txn_base_ = "arroyo_stream-" + std::to_string(sysid) + "-" + std::to_string(info.dboid) + "-" +
                std::to_string(info.pipeline_id);
    txn_id_ = txn_id_of(info.subtask_index, info.parallelism);
    header_id_ = txn_id_;
    own.emplace_back("transactional.id", txn_id_);
    // Watermark queries through this client (end_offsets) then give each partition's high
    // watermark, not its last stable offset. (A consumer property: the producer ignores it.)
    own.emplace_back("isolation.level", "read_uncommitted");
  }
  client_ = std::make_unique<KafkaClient>(RD_KAFKA_PRODUCER, config_, own, label_);
  rkt_ = rd_kafka_topic_new(client_->handle(), topic_.c_str(), nullptr);
  if (!rkt_)
    pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not create a topic handle",
             rd_kafka_err2str(rd_kafka_last_error()));
  // Checks once that the topic exists (librdkafka alone would only say so after 30 s).
  watcher_ = std::make_unique<TopicWatcher>(*client_, topic_, MyLatch, 0, false, true);
  if (exactly_once_) init_transactions();
}

void KafkaSink::write(const Batch& rows) {
  encoder_->encode(rows, emit_);
  rd_kafka_poll(client_->handle(), 0);  // serves delivery reports
  check_client();
}

// Sends one encoded message, keyed by sink.key_field (else by the format's own key, if any);
// exactly_once holds it until its checkpoint has committed.
void KafkaSink::send(const EncodedMessage& m) {
  bool has_key = key_index_ >= 0 && encode_key(m.values, m.nulls);
  const std::string* key = has_key ? &key_ : (key_index_ < 0 ? m.key : nullptr);
  int64 millis = to_unix_millis(m.time);
  if (exactly_once_) {
    HeldMessage& h = pending_.emplace_back();
    h.has_key = key != nullptr;
    if (key) h.key = *key;
    h.has_value = m.data != nullptr;
    if (m.data) h.value.assign(m.data, m.len);
    h.millis = millis;
    return;
  }
  produce(m.data, m.len, key ? key->data() : nullptr, key ? key->size() : 0, millis);
}

// The message timestamp of an event time: milliseconds since 1970 (as Arroyo), at least 0.
int64 KafkaSink::to_unix_millis(TimestampTz time) {
  int64 millis = time / 1000 + pg::kUnixToPostgresMs;
  return millis > 0 ? millis : 0;
}

bool KafkaSink::encode_key(const Datum* values, const bool* nulls) {
  if (nulls[key_index_]) return false;
  Datum value = values[key_index_];
  if (key_bytea_) {
    pg::call([&] {
      bytea* b = DatumGetByteaPP(value);
      key_.assign(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
      if ((Pointer)b != DatumGetPointer(value)) pfree(b);
    });
    return true;
  }
  pg::call([&] {
    char* s = OutputFunctionCall(&key_output_, value);
    char* utf8 = key_to_utf8_ ? pg_server_to_any(s, int(strlen(s)), PG_UTF8) : s;
    key_.assign(utf8);
    if (utf8 != s) pfree(utf8);
    pfree(s);
  });
  return true;
}

// Hands one message to librdkafka (which copies it), waiting while its queue is full.
// `header`: the value of the exactly-once header, if any.
void KafkaSink::produce(const char* value, size_t value_len, const char* key, size_t key_len,
                        int64 millis, const std::string* header) {
  for (;;) {
    rd_kafka_resp_err_t err;
    if (header) {
      rd_kafka_headers_t* headers = rd_kafka_headers_new(1);
      rd_kafka_header_add(headers, kExactlyOnceHeader, -1, header->data(), ssize_t(header->size()));
      err = rd_kafka_producev(
          client_->handle(), RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE((void*)value, value_len), RD_KAFKA_V_KEY(key, key_len),
          RD_KAFKA_V_TIMESTAMP(millis), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (err) rd_kafka_headers_destroy(headers);  // on success the message owns them
    } else {
      err = rd_kafka_producev(
          client_->handle(), RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE((void*)value, value_len), RD_KAFKA_V_KEY(key, key_len),
          RD_KAFKA_V_TIMESTAMP(millis), RD_KAFKA_V_END);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(client_->handle(), kFlushSliceMs);
      check_client();
      pg::call([] { CHECK_FOR_INTERRUPTS(); });
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
      char limit[64] = "?";
      size_t size = sizeof(limit);
      rd_kafka_conf_get(rd_kafka_conf(client_->handle()), "message.max.bytes", limit, &size);
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
               "row of " + std::to_string(value_len + key_len) +
                   " bytes is too large for Kafka topic \"" + topic_ + "\"",
               label_ + ": the client's message.max.bytes is " + limit + ".",
               "Raise the server's \"message.max.bytes\" (and the broker's limit).");
    }
    pg::fail(ERRCODE_FDW_ERROR,
             label_ + ": could not send a message: " + client_->redact(rd_kafka_err2str(err)));
  }
}

// Fails the pipeline on an undeliverable message, a missing topic or a permanent error; logs
// an unreachable cluster once (librdkafka keeps retrying).
void KafkaSink::check_client() {
  client_->report_logs();
  int64 failed = 0;
  if (KafkaError e = client_->delivery_failure(&failed))
    pg::fail(ERRCODE_FDW_ERROR, "Kafka delivery failed for topic \"" + topic_ + "\": " + e.text,
             label_ + ": " + std::to_string(failed) + " message(s) could not be delivered.");
  TopicState state = watcher_->state();
  if (state.version != seen_version_) {
    seen_version_ = state.version;
    if (state.kind == TopicState::Missing)
      fail_missing_topic(topic_, label_ + ": " + client_->redact(state.error));
    if (state.kind == TopicState::Unreachable) note_unreachable(client_->redact(state.error));
    if (state.kind == TopicState::Ready) note_reachable();
  }
  if (KafkaError e = client_->take_error()) {
    if (kafka_error_is_missing_topic(e.code))
      fail_missing_topic(topic_, label_ + ": " + rd_kafka_err2str(e.code));
    if (kafka_error_is_permanent(e.code)) pg::fail(ERRCODE_FDW_ERROR, label_ + ": " + e.text);
    note_unreachable(e.text);
  }
  int64 delivered = client_->delivered();
  if (delivered > delivered_) {
    delivered_ = delivered;
    note_reachable();
  }
}

// Waits until every message written so far is acknowledged (or has failed: then it fails).
void KafkaSink::commit() {
  if (!client_) return;
  encoder_->finish(emit_);
  if (exactly_once_) {
    recover();  // before anything new is delivered
    check_client();
    return;
  }
  TimestampTz last_log = GetCurrentTimestamp();
  for (;;) {
    check_client();
    if (rd_kafka_flush(client_->handle(), kFlushSliceMs) == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    pg::call([] { CHECK_FOR_INTERRUPTS(); });
    TimestampTz now = GetCurrentTimestamp();
    if (now - last_log >= kWaitLogIntervalUs) {
      last_log = now;
      int pending = rd_kafka_outq_len(client_->handle());
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: %s: waiting for the Kafka cluster to acknowledge "
                             "%d message(s)",
                             label_.c_str(), pending)));
      });
    }
  }
  check_client();
}

void KafkaSink::close() {
  if (!client_) return;
  commit();  // exactly_once: the last checkpoint's epochs were delivered at committed()
  shut_down(false);
}

void KafkaSink::note_unreachable(const std::string& why) { reachability_.lost(label_, why); }

void KafkaSink::note_reachable() { reachability_.regained(label_); }

// Destroys the producer; with `purge`, messages not yet acknowledged are dropped (they belong
// to a transaction that failed).
void KafkaSink::shut_down(bool purge) {
  watcher_.reset();
  if (rkt_) {
    rd_kafka_topic_destroy(rkt_);
    rkt_ = nullptr;
  }
  if (client_ && purge)
    rd_kafka_purge(client_->handle(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  client_.reset();
}

}  // namespace arroyo
