// The exactly-once mode of the kafka sink (sink.commit_mode 'exactly_once').
//
// Each checkpoint that follows new output gets the next epoch number and stores that output in
// the checkpoint (part = epoch: the outbox). Once the checkpoint's transaction has committed,
// committed() produces the outbox in one Kafka transaction, each message carrying the header
// "arroyo_stream_txn: <transactional id>/<epoch>/<index>", and commits it; a later checkpoint
// deletes the delivered epochs. Part 0 holds the bookkeeping: the next epoch number, the last
// delivered epoch, and per partition an offset before which none of our undelivered messages
// can lie (scan_from_: after our last delivered message, or the end of the partition when the
// first outbox was written).
//
// A restart first initializes transactions with the pipeline's transactional.id (a real broker
// then fences the previous incarnation and aborts its open transaction), then reads the topic
// from scan_from_ to its current end as a read_committed consumer and collects the headers of
// our messages: an outbox message whose header is there was delivered (its transaction
// committed); the others are produced again, in a new transaction. So the outbox entry is
// what makes the window between the PostgreSQL commit and the Kafka commit safe, and the
// topic itself, as a read_committed reader sees it, records what was delivered.
//
// In a parallel pipeline every worker runs this with its own transactional id (the
// pipeline's, plus "-<subtask>"; kafka_sink.cpp): its own epochs, outbox and bookkeeping in its
// own checkpoint entries, and a restart fences and recovers only its own id, recognizing its
// own messages by their header's prefix "<its id>/".
//
// Rescaled (a checkpoint of N workers resumed by N'), worker s inherits the old workers w with
// w % N' == s (rescale(), then restore() with their entries). Before it delivers anything it
// takes over what they left: it fences each inherited transactional id that is not its own
// (a producer of that id initializes transactions, which aborts the open transaction of any
// incarnation still around), reads the topic back for the headers of that id from where that
// worker's bookkeeping says, and delivers the outbox messages the topic does not show, still
// under that worker's header "<its id>/<epoch>/<index>", in a transaction of its own producer.
// So a crash before the first checkpoint after the rescale (which deletes the old entries)
// repeats this and finds those messages delivered. Every inherited outbox is then delivered:
// the worker starts its own epochs after the highest inherited one, with fresh bookkeeping
// (scan_from_ empty: the next outbox records the partitions' ends, past everything delivered
// so far), written whole by its first checkpoint.
#include "connectors/kafka/kafka_sink.hpp"

#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

namespace arroyo {

namespace {

constexpr int kTxnSliceMs = 1000;
constexpr int64 kTxnLogIntervalUs = 10 * USECS_PER_SEC;
constexpr size_t kOutboxChunkBytes = size_t(1) << 20;
const std::string kMetaKey = "meta";

// An outbox chunk's key: its number, big-endian, so that keys sort as numbers.
std::string chunk_key(int64 n) {
  std::string key(8, '\0');
  for (int i = 0; i < 8; i++) key[size_t(i)] = char((uint64(n) >> (56 - 8 * i)) & 0xff);
  return key;
}

void check_interrupts() {
  pg::call([] { CHECK_FOR_INTERRUPTS(); });
}

}  // namespace

std::string KafkaSink::header_for(int64 seq, size_t index) const {
  return header_id_ + "/" + std::to_string(seq) + "/" + std::to_string(index);
}

// The transactional id of worker `worker` of `parallelism`: the pipeline's at parallelism 1
// (as a pipeline that has never been parallel), else the pipeline's plus "-<worker>".
std::string KafkaSink::txn_id_of(int worker, int parallelism) const {
  return parallelism > 1 ? txn_base_ + "-" + std::to_string(worker) : txn_base_;
}

// Runs one step of the transactional API until it succeeds: retriable errors (the cluster not
// answering in time) are retried, logged every 10 seconds; any other error fails the pipeline,
// whose restart then recovers from the outbox.
void KafkaSink::run_transaction_step(const char* what,
                                     const std::function<rd_kafka_error_t*(int timeout_ms)>& step) {
  TimestampTz last_log = GetCurrentTimestamp();
  for (;;) {
    rd_kafka_error_t* error = step(kTxnSliceMs);
    if (!error) return;
    std::string text = client_->redact(rd_kafka_error_string(error));
    bool retriable = rd_kafka_error_is_retriable(error);
    rd_kafka_error_destroy(error);
    if (!retriable)
      pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not " + what + ": " + text,
               "The pipeline's restart re-sends what the topic does not show as delivered.");
    check_client();
    check_interrupts();
    TimestampTz now = GetCurrentTimestamp();
    if (now - last_log >= kTxnLogIntervalUs) {
      last_log = now;
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: %s: waiting for the Kafka cluster to %s: %s",
                             label_.c_str(), what, text.c_str())));
      });
    }
  }
}

void KafkaSink::init_transactions() {
  run_transaction_step("initialize transactions", [this](int timeout_ms) {
    return rd_kafka_init_transactions(client_->handle(), timeout_ms);
  });
}

// The topic's partition count, asking the cluster until it answers.
int KafkaSink::topic_partitions() {
  TopicState state = watcher_->state();
  if (state.kind == TopicState::Ready) return state.partitions;
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(client_->handle(), 0, rkt_, &md, kTxnSliceMs);
    int partitions = -1;
    if (!err) {
      for (int i = 0; i < md->topic_cnt; i++)
        if (topic_ == md->topics[i].topic && !md->topics[i].err)
          partitions = md->topics[i].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    if (partitions > 0) return partitions;
    check_client();  // fails on a missing topic
    check_interrupts();
  }
}

// Each partition's high watermark (this client reads uncommitted), asking until it answers.
std::map<int32, int64> KafkaSink::end_offsets(int partitions) {
  std::map<int32, int64> ends;
  for (int32 p = 0; p < partitions; p++) {
    for (;;) {
      int64_t low = 0, high = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(client_->handle(), topic_.c_str(),
                                                                 p, &low, &high, kTxnSliceMs);
      if (!err) {
        ends[p] = high;
        break;
      }
      if (kafka_error_is_missing_topic(err))
        fail_missing_topic(topic_, label_ + ": " + rd_kafka_err2str(err));
      check_client();
      check_interrupts();
    }
  }
  return ends;
}

// Reads the topic from scan_from_ to its current end as a read_committed consumer; returns the
// (epoch, index) of every message of ours it shows.
std::set<std::pair<int64, int64>> KafkaSink::scan_delivered() {
  int partitions = topic_partitions();
  std::map<int32, int64> ends = end_offsets(partitions);
  std::vector<std::pair<std::string, std::string>> own = {
      {"group.id", header_id_},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"isolation.level", "read_committed"},
      {"enable.partition.eof", "true"},
      {"allow.auto.create.topics", "false"},
      {"auto.offset.reset", "earliest"},
  };
  KafkaClient reader(RD_KAFKA_CONSUMER, config_, own, label_ + " (recovery)");
  rd_kafka_poll_set_consumer(reader.handle());
  std::set<int32> remaining;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (const auto& [p, end] : ends) {
    auto from = scan_from_.find(p);
    int64 start = from != scan_from_.end() ? from->second : 0;
    if (start >= end) continue;
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = start;
    remaining.insert(p);
  }
  rd_kafka_error_t* error =
      remaining.empty() ? nullptr : rd_kafka_incremental_assign(reader.handle(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error) {
    std::string text = reader.redact(rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not read the topic back: " + text);
  }
  std::set<std::pair<int64, int64>> seen;
  std::string prefix = header_id_ + "/";
  int64 scanned = 0;
  while (!remaining.empty()) {
    reader.report_logs();
    check_interrupts();
    rd_kafka_message_t* m = rd_kafka_consumer_poll(reader.handle(), kTxnSliceMs);
    if (!m) continue;
    int32 p = m->partition;
    int64 reached = -1;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      reached = m->offset;
    } else if (m->err) {
      std::string text = reader.redact(rd_kafka_message_errstr(m));
      rd_kafka_resp_err_t code = m->err;
      rd_kafka_message_destroy(m);
      if (kafka_error_is_permanent(code))
        pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not read the topic back: " + text);
      continue;  // librdkafka retries
    } else {
      scanned++;
      reached = m->offset + 1;
      rd_kafka_headers_t* headers = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(headers, kExactlyOnceHeader, &value, &size) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          value) {
        std::string h(static_cast<const char*>(value), size);
        long long seq = 0, index = 0;
        if (h.compare(0, prefix.size(), prefix) == 0 &&
            sscanf(h.c_str() + prefix.size(), "%lld/%lld", &seq, &index) == 2)
          seen.insert({seq, index});
      }
    }
    rd_kafka_message_destroy(m);
    if (reached >= ends[p]) remaining.erase(p);
  }
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: read back %lld message(s) written since the last "
                         "delivery this pipeline recorded",
                         label_.c_str(), (long long)scanned)));
  });
  return seen;
}

// After a restart: delivers the outbox epochs restored from the checkpoint, except the
// messages the topic already shows.
void KafkaSink::recover() {
  if (recovered_) return;
  recovered_ = true;
  if (rescaled_from_) {
    take_over_inherited();
    return;
  }
  if (outbox_.empty()) return;
  std::set<std::pair<int64, int64>> seen = scan_delivered();
  int64 resent = 0, present = 0;
  for (const auto& [seq, messages] : outbox_)
    for (size_t i = 0; i < messages.size(); i++) (seen.count({seq, int64(i)}) ? present : resent)++;
  int64 first = outbox_.begin()->first, last = outbox_.rbegin()->first;
  deliver_outbox(seen);
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: recovered epochs %lld to %lld of transactional id "
                         "\"%s\": %lld message(s) were in the topic, %lld sent again",
                         label_.c_str(), (long long)first, (long long)last, txn_id_.c_str(),
                         (long long)present, (long long)resent)));
  });
}

// Produces every outbox message not in `skip` in one Kafka transaction and commits it; the
// outbox's epochs are then delivered.
void KafkaSink::deliver_outbox(const std::set<std::pair<int64, int64>>& skip) {
  bool any = false;
  for (const auto& [seq, messages] : outbox_) {
    for (size_t i = 0; i < messages.size(); i++) {
      if (skip.count({seq, int64(i)})) continue;
      if (!any) {
        if (rd_kafka_error_t* error = rd_kafka_begin_transaction(client_->handle())) {
          std::string text = client_->redact(rd_kafka_error_string(error));
          rd_kafka_error_destroy(error);
          pg::fail(ERRCODE_FDW_ERROR, label_ + ": could not begin a Kafka transaction: " + text);
        }
        any = true;
      }
      const HeldMessage& h = messages[i];
      std::string header = header_for(seq, i);
      produce(h.has_value ? h.value.data() : nullptr, h.value.size(),
              h.has_key ? h.key.data() : nullptr, h.key.size(), h.millis, &header);
    }
  }
  if (any) {
    run_transaction_step("commit a transaction", [this](int timeout_ms) {
      return rd_kafka_commit_transaction(client_->handle(), timeout_ms);
    });
    rd_kafka_poll(client_->handle(), 0);  // delivery reports
    check_client();
  }
  for (const auto& [p, end] : client_->take_delivered_ends()) {
    int64& from = scan_from_[p];
    from = std::max(from, end);
  }
  for (const auto& entry : outbox_) {
    delivered_parts_.push_back(entry.first);
    delivered_seq_ = std::max(delivered_seq_, entry.first);
  }
  outbox_.clear();
  meta_dirty_ = true;
}

// Aborts the open transaction of another transactional id (an inherited old worker's) and
// fences its producers: initializes transactions with that id in a producer of our own.
void KafkaSink::fence(const std::string& transactional_id) {
  std::vector<std::pair<std::string, std::string>> own = {{"allow.auto.create.topics", "false"},
                                                          {"transactional.id", transactional_id}};
  KafkaClient fencer(RD_KAFKA_PRODUCER, config_, own, label_ + " (fencing)");
  TimestampTz last_log = GetCurrentTimestamp();
  for (;;) {
    rd_kafka_error_t* error = rd_kafka_init_transactions(fencer.handle(), kTxnSliceMs);
    fencer.report_logs();
    if (!error) return;
    std::string text = fencer.redact(rd_kafka_error_string(error));
    bool retriable = rd_kafka_error_is_retriable(error);
    rd_kafka_error_destroy(error);
    if (!retriable)
      pg::fail(ERRCODE_FDW_ERROR,
               label_ + ": could not fence transactional id \"" + transactional_id + "\": " + text);
    check_client();
    check_interrupts();
    TimestampTz now = GetCurrentTimestamp();
    if (now - last_log >= kTxnLogIntervalUs) {
      last_log = now;
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: %s: waiting for the Kafka cluster to fence "
                             "transactional id \"%s\": %s",
                             label_.c_str(), transactional_id.c_str(), text.c_str())));
      });
    }
  }
}

// After a rescale: delivers what every inherited old worker left undelivered (see the top of
// this file), then starts this worker's own epochs afresh.
void KafkaSink::take_over_inherited() {
  int64 next = std::max<int64>(next_seq_, 1);
  int64 present = 0, resent = 0, epochs = 0;
  for (auto& [w, inh] : inherited_) {
    next = std::max(next, inh.next_seq);
    std::string id = txn_id_of(w, rescaled_from_);
    if (id != txn_id_) fence(id);  // our own id was fenced by open()
    for (auto it = inh.outbox.begin(); it != inh.outbox.end();)
      it = it->first <= inh.delivered_seq ? inh.outbox.erase(it) : std::next(it);
    if (inh.outbox.empty()) continue;
    header_id_ = id;
    outbox_ = std::move(inh.outbox);
    scan_from_ = inh.scan_from;
    std::set<std::pair<int64, int64>> seen = scan_delivered();
    for (const auto& [seq, messages] : outbox_) {
      epochs++;
      for (size_t i = 0; i < messages.size(); i++)
        (seen.count({seq, int64(i)}) ? present : resent)++;
    }
    deliver_outbox(seen);
  }
  header_id_ = txn_id_;
  inherited_.clear();
  outbox_.clear();
  scan_from_.clear();
  delivered_parts_.clear();  // the runtime deletes the old workers' entries
  next_seq_ = next;
  delivered_seq_ = next - 1;
  meta_dirty_ = true;
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: %s: rescaled from %d worker(s): took over %lld "
                         "undelivered epoch(s) of the old workers this one inherits: %lld "
                         "message(s) were in the topic, %lld sent; own epochs go on at %lld",
                         label_.c_str(), rescaled_from_, (long long)epochs, (long long)present,
                         (long long)resent, (long long)next)));
  });
}

void KafkaSink::rescale(int old_parallelism) { rescaled_from_ = old_parallelism; }

void KafkaSink::committed() {
  if (!exactly_once_ || !client_) return;
  recover();
  if (!outbox_.empty()) deliver_outbox({});
}

// Writes one epoch's messages as outbox entries of about kOutboxChunkBytes each.
void KafkaSink::write_outbox(StateWriter& w, int64 seq, const std::vector<HeldMessage>& messages) {
  StateEncoder chunk;
  int64 n = 0;
  for (const HeldMessage& h : messages) {
    chunk.put_bool(h.has_key);
    if (h.has_key) chunk.put_string(h.key);
    chunk.put_bool(h.has_value);
    if (h.has_value) chunk.put_string(h.value);
    chunk.put_int(h.millis);
    if (chunk.size() >= kOutboxChunkBytes) {
      w.put(seq, chunk_key(n++), chunk.bytes());
      chunk.clear();
    }
  }
  if (chunk.size() > 0) w.put(seq, chunk_key(n), chunk.bytes());
}

// Deletes delivered epochs, stores this checkpoint's output as a new epoch, and the
// bookkeeping if it changed.
void KafkaSink::checkpoint(StateWriter& w) {
  if (!exactly_once_) return;
  if (client_) recover();  // a rescale's takeover comes before anything is written
  for (int64 seq : delivered_parts_) w.remove_part(seq);
  delivered_parts_.clear();
  if (!pending_.empty()) {
    // Where our messages will start in partitions we have never written to: their end now.
    int partitions = topic_partitions();
    bool missing = false;
    for (int32 p = 0; p < partitions; p++) missing = missing || !scan_from_.count(p);
    if (missing)
      for (const auto& [p, end] : end_offsets(partitions))
        if (!scan_from_.count(p)) scan_from_[p] = end;
    int64 seq = next_seq_++;
    write_outbox(w, seq, pending_);
    outbox_[seq] = std::move(pending_);
    pending_.clear();
    meta_dirty_ = true;
  }
  if (!meta_dirty_) return;
  StateEncoder meta;
  meta.put_int(next_seq_);
  meta.put_int(delivered_seq_);
  meta.put_int(int64(scan_from_.size()));
  for (const auto& [p, offset] : scan_from_) {
    meta.put_int(p);
    meta.put_int(offset);
  }
  w.put(0, kMetaKey, meta.bytes());
  meta_dirty_ = false;
}

void KafkaSink::restore(const StateEntry& e) {
  std::string what = "exactly-once state of " + label_;
  StateDecoder d(e.value.data(), e.value.size(), what);
  if (!exactly_once_) {
    if (e.part != 0)
      pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
               label_ +
                   ": the checkpoint holds exactly-once output not yet delivered, but "
                   "\"sink.commit_mode\" is no longer 'exactly_once'",
               {}, "Set \"sink.commit_mode\" back to 'exactly_once' to deliver it.");
    return;
  }
  if (rescaled_from_) {
    Inherited& inh = inherited_[e.worker];
    if (e.part == 0) {
      if (e.key != kMetaKey) d.corrupt("unexpected key");
      inh.next_seq = d.get_int();
      inh.delivered_seq = d.get_int();
      int64 n = d.get_int();
      for (int64 i = 0; i < n; i++) {
        int64 p = d.get_int();
        inh.scan_from[int32(p)] = d.get_int();
      }
      d.expect_end();
    } else {
      read_outbox_chunk(d, inh.outbox[e.part]);
    }
    return;
  }
  if (e.part == 0) {
    if (e.key != kMetaKey) d.corrupt("unexpected key");
    next_seq_ = std::max(next_seq_, d.get_int());
    delivered_seq_ = d.get_int();
    int64 n = d.get_int();
    for (int64 i = 0; i < n; i++) {
      int64 p = d.get_int();
      scan_from_[int32(p)] = d.get_int();
    }
    d.expect_end();
    return;
  }
  if (e.part <= delivered_seq_) {  // delivered before the restart: only to be deleted
    if (delivered_parts_.empty() || delivered_parts_.back() != e.part)
      delivered_parts_.push_back(e.part);
    return;
  }
  if (e.part >= next_seq_) d.corrupt("epoch " + std::to_string(e.part) + " was never started");
  read_outbox_chunk(d, outbox_[e.part]);
}

// Appends the messages of one outbox chunk (write_outbox) to `messages`.
void KafkaSink::read_outbox_chunk(StateDecoder& d, std::vector<HeldMessage>& messages) {
  while (!d.at_end()) {
    HeldMessage& h = messages.emplace_back();
    h.has_key = d.get_bool();
    if (h.has_key) h.key = d.get_string();
    h.has_value = d.get_bool();
    if (h.has_value) h.value = d.get_string();
    h.millis = d.get_int();
  }
}

}  // namespace arroyo
