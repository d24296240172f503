#include "connectors/kafka/kafka_source.hpp"

#include "pg/guard.hpp"
#include "pg/time.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "mb/pg_wchar.h"
}

#include <algorithm>

namespace arroyo {

namespace {

constexpr int kPartitionRefreshMs = 10000;
constexpr int64 kDefaultMaxMessageBytes = 1048576;
// Payload bytes one poll takes at most, so a round's memory stays bounded.
constexpr size_t kPollByteBudget = size_t(16) << 20;
constexpr int kCloseCommitWaitMs = 2000;
// How long resolving where new partitions start (latest / group offsets) may block a poll.
constexpr int kResolveTimeoutMs = 5000;

// Called by librdkafka (on one of its threads) when the consumer queue gets something.
void wake_worker(rd_kafka_t*, void* latch) { SetLatch(static_cast<Latch*>(latch)); }

// Destroys a run of consumed messages whatever happens while they are handled.
struct MessageRun {
  std::vector<rd_kafka_message_t*>& messages;
  ssize_t count;
  ~MessageRun() {
    for (ssize_t i = 0; i < count; i++) rd_kafka_message_destroy(messages[i]);
  }
};

}  // namespace

KafkaSource::KafkaSource(const TableSpec& spec)
    : table_(spec.name),
      topic_(get_option(spec.table_options, "topic").value_or("")),
      config_(kafka_client_config(spec)),
      metadata_(kafka_metadata_columns(spec)),
      bad_data_(spec) {
  label_ = "kafka source " + table_ + " (topic \"" + topic_ + "\")";
  decoder_ = make_row_decoder(spec);
  std::string offset = get_option(spec.table_options, "source.offset").value_or("latest");
  start_mode_ = offset == "earliest" ? StartMode::Earliest
                : offset == "group"  ? StartMode::Group
                                     : StartMode::Latest;
  group_id_ = get_option(spec.table_options, "source.group_id").value_or("");
  read_committed_ = get_option(spec.table_options, "source.read_mode").value_or("read_committed") ==
                    "read_committed";
  stop_at_latest_ = get_option(spec.table_options, "source.stop_at") == "latest";
  max_message_bytes_ =
      option_int(spec.table_options, "source.max_message_bytes", kDefaultMaxMessageBytes);
}

KafkaSource::~KafkaSource() { shut_down(); }

void KafkaSource::open(const RuntimeInfo& info) {
  preview_ = info.preview;
  latch_ = MyLatch;
  share_ = SubtaskShare(info.subtask_index, info.parallelism);
  if (group_id_.empty()) {
    const char* db = pg::call([] { return (const char*)get_database_name(MyDatabaseId); });
    group_id_ = std::string("arroyo_stream-") + db + "-" + info.pipeline_name;
  }
  std::vector<std::pair<std::string, std::string>> own = {
      {"group.id", group_id_},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // Where there is no committed offset (source.offset 'group') or an offset has expired.
      {"auto.offset.reset", "earliest"},
      {"isolation.level", read_committed_ ? "read_committed" : "read_uncommitted"},
      {"enable.partition.eof", stop_at_latest_ ? "true" : "false"},
      {"allow.auto.create.topics", "false"},
  };
  // librdkafka's default (100000) makes the fetcher back off for about a second whenever the
  // consumer queue, shared by all partitions, holds that many messages: at full speed the
  // source then waits most of the time. Memory stays bounded by queued.max.messages.kbytes.
  bool has_min = false;
  for (const auto& [name, value] : config_.properties)
    has_min = has_min || name == "queued.min.messages";
  if (!has_min) own.emplace_back("queued.min.messages", "1000000");
  client_ = std::make_unique<KafkaClient>(RD_KAFKA_CONSUMER, config_, own, label_);
  rd_kafka_poll_set_consumer(client_->handle());
  queue_ = rd_kafka_queue_get_consumer(client_->handle());
  rd_kafka_queue_cb_event_enable(queue_, &wake_worker, latch_);
  watcher_ = std::make_unique<TopicWatcher>(*client_, topic_, latch_, kPartitionRefreshMs,
                                            stop_at_latest_, false);
}

PollResult KafkaSource::poll(Batch& out) {
  if (ended_) return PollResult::ended();
  client_->report_logs();
  check_client_errors();
  update_assignment();
  // Bounded: every partition of ours is at its end (at once for a worker that has none).
  if (stop_at_latest_ && assigned_ > 0 && done_count_ == owned_) {
    ended_ = true;
    return PollResult::ended();
  }
  TimestampTz now = GetCurrentTimestamp();
  if (!metadata_.empty())
    topic_datum_ = pg::call([&] { return PointerGetDatum(cstring_to_text(topic_.c_str())); });
  int room_per_message = decoder_->max_rows_per_message();
  size_t bytes = 0;
  bool any = false, drained = false;
  while (out.size() + room_per_message <= out.capacity() && bytes < kPollByteBudget) {
    size_t want = size_t((out.capacity() - out.size()) / room_per_message);
    if (messages_.size() < want) messages_.resize(want);
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, messages_.data(), want);
    if (n <= 0) {
      drained = true;
      break;
    }
    any = true;
    MessageRun run{messages_, n};
    for (ssize_t i = 0; i < n; i++) bytes += handle(messages_[i], out, now);
  }
  // librdkafka sets the latch only when its queue goes from empty to non-empty: if this poll
  // left messages behind, the worker must not sleep on the latch (an empty batch, all dropped,
  // makes the round look idle).
  if (!drained) SetLatch(latch_);
  client_->report_logs();
  check_client_errors();
  if (stop_at_latest_ && assigned_ > 0 && done_count_ == owned_ && out.empty()) {
    ended_ = true;
    return PollResult::ended();
  }
  // A worker with no partition of an unbounded topic stays idle (no split holds its watermark
  // back) until the topic gets one of its partitions.
  return any ? PollResult::data() : PollResult::idle();
}

// Errors librdkafka reported through its error callback: permanent ones fail the pipeline,
// others (the cluster cannot be reached) are retried by librdkafka and logged once.
void KafkaSource::check_client_errors() {
  if (KafkaError e = client_->take_error()) {
    if (kafka_error_is_permanent(e.code)) fail_permanent(e.code, e.text);
    note_unreachable(e.text);
  }
  if (KafkaError e = client_->take_commit_failure())
    pg::call([&] {
      ereport(LOG, (errmsg("arroyo_stream: %s: could not commit offsets to consumer group "
                           "\"%s\": %s",
                           label_.c_str(), group_id_.c_str(), e.text.c_str())));
    });
}

// Applies what the topic watcher last learned: fails on a missing topic, assigns new partitions.
void KafkaSource::update_assignment() {
  TopicState state = watcher_->state();
  if (state.version == seen_version_ && !assign_pending_) return;
  seen_version_ = state.version;
  switch (state.kind) {
    case TopicState::Unknown: return;
    case TopicState::Missing:
      fail_missing_topic(topic_, label_ + ": " + client_->redact(state.error));
    case TopicState::Unreachable: note_unreachable(client_->redact(state.error)); return;
    case TopicState::Ready:
      note_reachable();
      if (stop_at_latest_ && assigned_ > 0) return;  // bounded: only the partitions at start
      if (state.partitions > assigned_)
        assign_pending_ = !assign(assigned_, state.partitions, state);
      return;
  }
}

// Where our partitions of [from, to) start, as concrete offsets where source.offset needs the
// cluster (latest: the end now; group: the group's committed offset), so that a checkpoint taken
// before any message arrives records where reading began. False if the cluster did not answer.
bool KafkaSource::resolve_starts(int from, int to, std::map<int32, int64>& starts) {
  bool initial = from == 0;
  std::vector<int32> ask;
  for (int p = from; p < to; p++) {
    if (!share_.owns(p)) continue;
    auto given = start_positions_.find(p);
    if (given != start_positions_.end())
      starts[p] = given->second;
    else if (initial && start_mode_ == StartMode::Latest)
      ask.push_back(p);
    else if (start_mode_ == StartMode::Group)
      ask.push_back(p);
    else
      starts[p] = RD_KAFKA_OFFSET_BEGINNING;  // earliest, and partitions created while running
  }
  if (ask.empty()) return true;
  if (start_mode_ == StartMode::Latest) {
    for (int32 p : ask) {
      int64_t low = 0, high = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(client_->handle(), topic_.c_str(),
                                                                 p, &low, &high, kResolveTimeoutMs);
      if (err) {
        note_unreachable(client_->redact(rd_kafka_err2str(err)));
        return false;
      }
      starts[p] = high;
    }
    return true;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(int(ask.size()));
  for (int32 p : ask) rd_kafka_topic_partition_list_add(list, topic_.c_str(), p);
  rd_kafka_resp_err_t err = rd_kafka_committed(client_->handle(), list, kResolveTimeoutMs);
  for (int i = 0; !err && i < list->cnt; i++) {
    int64 offset = list->elems[i].offset;
    // Nothing committed: the earliest offset (as auto.offset.reset says).
    starts[list->elems[i].partition] = offset >= 0 ? offset : RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (err) note_unreachable(client_->redact(rd_kafka_err2str(err)));
  return !err;
}

// Adds our partitions of [from, to) to the consumer's assignment (the others are known, not
// read); false if it must be retried.
bool KafkaSource::assign(int from, int to, const TopicState& state) {
  bool initial = from == 0;
  std::map<int32, int64> starts;
  if (!resolve_starts(from, to, starts)) return false;
  int added = int(share_.count(from, to));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(std::max(added, 1));
  for (int p = from; p < to; p++) {
    if (!share_.owns(p)) continue;
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = starts[p];
    positions_[p] = starts[p];
  }
  rd_kafka_error_t* error =
      added > 0 ? rd_kafka_incremental_assign(client_->handle(), list) : nullptr;
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string text = client_->redact(rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not assign partitions: " + text);
  }
  if (stop_at_latest_) {
    end_offsets_ = state.end_offsets;
    end_offsets_.resize(size_t(to), 0);
    done_.assign(size_t(to), false);
  }
  if (!initial && added > 0)
    pg::call([&] {
      if (share_.parallelism == 1)
        ereport(LOG, (errmsg("arroyo_stream: %s: reading new partitions %d to %d", label_.c_str(),
                             from, to - 1)));
      else
        ereport(LOG, (errmsg("arroyo_stream: %s: new partitions %d to %d, subtask %d of %d "
                             "reads %d of them",
                             label_.c_str(), from, to - 1, int(share_.subtask),
                             int(share_.parallelism), added)));
    });
  assigned_ = to;
  owned_ += added;
  active_splits_.clear();
  for (int32 p = 0; p < to; p++)
    if (share_.owns(p) && (!stop_at_latest_ || !done_[size_t(p)])) active_splits_.push_back(p);
  if (reachability_.reachable()) status_ = reading_status();
  return true;
}

size_t KafkaSource::handle(const rd_kafka_message_t* message, Batch& out, TimestampTz now) {
  if (message->err) {
    handle_event(message);
    return 0;
  }
  note_reachable();
  int32 p = message->partition;
  if (stop_at_latest_ && p < assigned_) {
    if (done_[size_t(p)]) return 0;
    if (message->offset >= end_offsets_[size_t(p)]) {  // written after the source started
      mark_done(p);
      return 0;
    }
  }
  decode(message, out, now);
  positions_[p] = message->offset + 1;
  if (stop_at_latest_ && p < assigned_ && message->offset + 1 >= end_offsets_[size_t(p)])
    mark_done(p);
  return message->len;
}

// Decodes one message into rows and fills their metadata columns; bad data is dropped and
// counted, or fails the pipeline naming where the message is.
void KafkaSource::decode(const rd_kafka_message_t* message, Batch& out, TimestampTz now) {
  rd_kafka_timestamp_type_t type;
  int64_t millis = rd_kafka_message_timestamp(message, &type);
  TimestampTz time = type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && millis >= 0
                         ? millis * 1000 - pg::kUnixToPostgresUs
                         : now;
  bad_data_.decode(
      out,
      [&] {
        int before = out.size();
        if (int64(message->len) > max_message_bytes_)
          pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "message of " + std::to_string(message->len) +
                                                       " bytes exceeds source.max_message_bytes (" +
                                                       std::to_string(max_message_bytes_) + ")");
        decoder_->decode(static_cast<const char*>(message->payload), message->len, out, time);
        if (!metadata_.empty()) fill_metadata(message, out, before);
        for (int r = before; r < out.size(); r++) out.set_split(r, message->partition);
      },
      [&] {
        return "bad data in topic \"" + topic_ + "\" partition " +
               std::to_string(message->partition) + " offset " + std::to_string(message->offset);
      });
}

void KafkaSource::fill_metadata(const rd_kafka_message_t* message, Batch& out, int from) {
  rd_kafka_timestamp_type_t type;
  int64_t millis = rd_kafka_message_timestamp(message, &type);
  bool has_time = type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && millis >= 0;
  try {
    pg::call([&] {
      for (const KafkaMetadataColumn& m : metadata_) {
        Datum value = 0;
        bool isnull = false;
        switch (m.kind) {
          case KafkaMetadata::Partition: value = Int32GetDatum(message->partition); break;
          case KafkaMetadata::Offset: value = Int64GetDatum(message->offset); break;
          case KafkaMetadata::Timestamp:
            isnull = !has_time;
            value = TimestampTzGetDatum(millis * 1000 - pg::kUnixToPostgresUs);
            break;
          case KafkaMetadata::Topic: value = topic_datum_; break;
          case KafkaMetadata::Key: {
            isnull = message->key == nullptr;
            if (isnull) break;
            size_t len = message->key_len;
            if (m.key_bytea) {
              bytea* b = (bytea*)palloc(VARHDRSZ + len);
              SET_VARSIZE(b, VARHDRSZ + len);
              memcpy(VARDATA(b), message->key, len);
              value = PointerGetDatum(b);
              break;
            }
            char* copy = (char*)palloc(len + 1);
            memcpy(copy, message->key, len);
            copy[len] = '\0';
            // Checks UTF-8 (a NUL byte is invalid too) and converts to the database encoding.
            char* text = len > 0 ? pg_any_to_server(copy, int(len), PG_UTF8) : copy;
            value = PointerGetDatum(cstring_to_text(text));
            break;
          }
        }
        for (int r = from; r < out.size(); r++) {
          out.values(r)[m.index] = value;
          out.nulls(r)[m.index] = isnull;
        }
      }
    });
  } catch (const pg::Error& e) {  // only a text key can fail: not UTF-8
    throw pg::Error(e.sqlerrcode(), "message key: " + e.message(), e.detail(), e.hint());
  }
}

// A consumer event carried as a message: end of partition, or an error.
void KafkaSource::handle_event(const rd_kafka_message_t* message) {
  if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    int32 p = message->partition;
    if (message->offset > positions_[p]) positions_[p] = message->offset;
    if (stop_at_latest_ && p >= 0 && p < assigned_ && message->offset >= end_offsets_[size_t(p)])
      mark_done(p);
    return;
  }
  std::string text = client_->redact(rd_kafka_message_errstr(message));
  if (kafka_error_is_permanent(message->err)) fail_permanent(message->err, text);
  if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
    pg::call(
        [&] { ereport(LOG, (errmsg("arroyo_stream: %s: %s", label_.c_str(), text.c_str()))); });
    return;
  }
  note_unreachable(text);
}

// Fails the pipeline on an error that waiting will not fix.
void KafkaSource::fail_permanent(rd_kafka_resp_err_t code, const std::string& text) {
  if (kafka_error_is_missing_topic(code))
    fail_missing_topic(topic_, label_ + ": " + rd_kafka_err2str(code));
  pg::fail(ERRCODE_FDW_ERROR, label_ + ": " + text);
}

void KafkaSource::mark_done(int32 partition) {
  if (done_[size_t(partition)]) return;
  done_[size_t(partition)] = true;
  done_count_++;
  active_splits_.erase(std::remove(active_splits_.begin(), active_splits_.end(), partition),
                       active_splits_.end());
  if (reachability_.reachable()) status_ = reading_status();
}

std::string KafkaSource::status() const { return status_; }

// The status while the cluster is reachable; in a parallel pipeline, of this worker's
// partitions ("subtask 1 of 2: reading 4 of 8 partitions, 1 at their end").
std::string KafkaSource::reading_status() const {
  if (assigned_ == 0) return "connecting";
  std::string s;
  if (share_.parallelism == 1)
    s = "reading " + std::to_string(owned_) + " partition" + (owned_ > 1 ? "s" : "");
  else
    s = "subtask " + std::to_string(share_.subtask) + " of " + std::to_string(share_.parallelism) +
        ": reading " + std::to_string(owned_) + " of " + std::to_string(assigned_) + " partition" +
        (assigned_ > 1 ? "s" : "");
  if (stop_at_latest_) s += ", " + std::to_string(done_count_) + " at their end";
  return s;
}

void KafkaSource::note_unreachable(const std::string& why) {
  status_ = "cannot reach the Kafka cluster, retrying: " + why;
  reachability_.lost(label_, why);
}

void KafkaSource::note_reachable() {
  if (reachability_.regained(label_)) status_ = reading_status();
}

void KafkaSource::committed() {
  if (client_ && positions_ != committed_) commit_positions(false);
}

// Commits the positions to the consumer group: asynchronously (the outcome is reported at a
// later poll), or waiting a little for the broker's answer.
void KafkaSource::commit_positions(bool wait) {
  if (positions_.empty() || preview_) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(int(positions_.size()));
  for (const auto& [p, offset] : positions_)
    if (offset >= 0) rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = offset;
  if (list->cnt == 0) {
    rd_kafka_topic_partition_list_destroy(list);
    return;
  }
  if (wait) {
    rd_kafka_queue_t* replies = rd_kafka_queue_new(client_->handle());
    rd_kafka_commit_queue(client_->handle(), list, replies, nullptr, nullptr);
    if (rd_kafka_event_t* ev = rd_kafka_queue_poll(replies, kCloseCommitWaitMs))
      rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(replies);
  } else {
    rd_kafka_commit(client_->handle(), list, 1);
  }
  rd_kafka_topic_partition_list_destroy(list);
  committed_ = positions_;
}

// Writes the next offset of every partition of ours whose position moved since the last
// checkpoint: part 0, key = the partition, value = the offset (RD_KAFKA_OFFSET_BEGINNING:
// nothing read yet). A partition restored but not assigned yet (the cluster has not answered)
// keeps its restored offset.
void KafkaSource::checkpoint(StateWriter& w) {
  StateEncoder key, value;
  std::map<int32, int64> all = positions_;
  all.insert(start_positions_.begin(), start_positions_.end());  // positions_ first
  for (const auto& [p, offset] : all) {
    auto old = checkpointed_.find(p);
    if (old != checkpointed_.end() && old->second == offset) continue;
    key.clear();
    value.clear();
    key.put_int(p);
    value.put_int(offset);
    w.put(0, key.bytes(), value.bytes());
    checkpointed_[p] = offset;
  }
}

// Takes back one partition's position: reading starts there, whatever source.offset says.
void KafkaSource::restore(const StateEntry& e) {
  std::string what = "position of " + label_;
  StateDecoder key(e.key.data(), e.key.size(), what);
  StateDecoder value(e.value.data(), e.value.size(), what);
  int64 p = key.get_int();
  int64 offset = value.get_int();
  key.expect_end();
  value.expect_end();
  if (e.part != 0 || p < 0 || p > PG_INT32_MAX ||
      (offset < 0 && offset != RD_KAFKA_OFFSET_BEGINNING))
    key.corrupt("partition " + std::to_string(p) + " at offset " + std::to_string(offset));
  // Another worker's partition (the runtime gives each worker the entries it wrote, or after a
  // rescale every old worker's: this keeps a worker to its own partitions).
  if (!share_.owns(p)) return;
  start_positions_[int32(p)] = offset;
  // Rescaled: the runtime deletes the old workers' entries with the first checkpoint, which
  // therefore writes every position of ours again.
  if (!rescaled_) checkpointed_[int32(p)] = offset;
}

// Resuming a checkpoint of another parallelism: every old worker's partition positions come to
// restore(), which keeps this worker's partitions (p % parallelism == subtask_index). Each
// partition was read by exactly one old worker, so its entry is its position.
void KafkaSource::rescale(int old_parallelism) {
  rescaled_ = true;
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: resuming the partition positions of %d worker(s) "
                         "as subtask %d of %d",
                         label_.c_str(), old_parallelism, int(share_.subtask),
                         int(share_.parallelism))));
  });
}

void KafkaSource::close() {
  if (!client_) return;
  commit_positions(true);
  client_->report_logs();
  shut_down();
}

// Stops the watcher and the consumer; librdkafka no longer calls back into this object.
void KafkaSource::shut_down() {
  if (queue_) {
    rd_kafka_queue_cb_event_enable(queue_, nullptr, nullptr);
    rd_kafka_queue_destroy(queue_);
    queue_ = nullptr;
  }
  watcher_.reset();
  client_.reset();
}

}  // namespace arroyo
