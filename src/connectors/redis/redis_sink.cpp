#include "connectors/redis/redis_sink.hpp"

#include "formats/json.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {

constexpr size_t kMaxQueuedBytes = 4 << 20;  // sent before commit() past this

}  // namespace

RedisSink::RedisSink(const TableSpec& spec)
    : spec_(spec),
      config_(redis_table_config(spec)),
      connection_(redis_connection(spec)),
      context_("arroyo_stream redis sink") {
  label_ = "redis sink " + spec.name;
  encoder_ = make_row_encoder(spec);
  emit_ = [this](const EncodedMessage& m) { queue_insert(m); };
  output_.resize(spec.natts);
  for (int col : {config_.key_column, config_.field_column}) {
    if (col < 0) continue;
    Oid type = InvalidOid;
    for (const ColumnInfo& c : spec.columns)
      if (c.attnum - 1 == col) type = c.type;
    pg::call([&] {
      Oid function;
      bool varlena;
      getTypeOutputInfo(type, &function, &varlena);
      fmgr_info_cxt(function, &output_[col], context_.get());
    });
  }
  inserts_ = std::make_unique<Batch>(spec.natts);
}

void RedisSink::open(const RuntimeInfo& info) {
  client_ = std::make_unique<RedisClient>(connection_, label_,
                                          [this, report = info.report_status](const std::string&) {
                                            if (report) report(status());
                                          });
}

std::string RedisSink::column_text(int col, const Datum* values, const bool* nulls,
                                   const char* option) {
  if (nulls[col]) {
    std::string name = "?";
    for (const ColumnInfo& c : spec_.columns)
      if (c.attnum - 1 == col) name = c.name;
    pg::fail(ERRCODE_NOT_NULL_VIOLATION,
             label_ + ": column \"" + name + "\" (" + option + ") is NULL in a row",
             "A Redis key and a hash field are never NULL.",
             "Filter the rows (WHERE " + name + " IS NOT NULL) or coalesce() the column.");
  }
  std::string out;
  pg::call([&] {
    char* s = OutputFunctionCall(&output_[col], values[col]);
    out.assign(s);
    pfree(s);
  });
  return out;
}

std::string RedisSink::key_of(const Datum* values, const bool* nulls) {
  if (config_.key_column < 0) return config_.key_prefix;
  return config_.key_prefix + column_text(config_.key_column, values, nulls, "target.key_column");
}

void RedisSink::queue_insert(const EncodedMessage& m) {
  std::string key = key_of(m.values, m.nulls);
  std::string value = m.data ? std::string(m.data, m.len) : std::string();
  std::string ttl = std::to_string(config_.ttl_secs);
  auto add = [&](const std::vector<std::string>& args) {
    queue_.push_back(redis_command(args));
    queued_bytes_ += queue_.back().size();
  };
  switch (config_.target) {
    case RedisTarget::String:
      if (config_.ttl_secs)
        add({"SET", key, value, "EX", ttl});
      else
        add({"SET", key, value});
      return;
    case RedisTarget::List:
      add({config_.prepend ? "LPUSH" : "RPUSH", key, value});
      if (config_.max_length) {
        // Keep the newest max_length items: the tail of an appended list, the head of a
        // prepended one.
        std::string n = std::to_string(config_.max_length);
        if (config_.prepend)
          add({"LTRIM", key, "0", std::to_string(config_.max_length - 1)});
        else
          add({"LTRIM", key, "-" + n, "-1"});
      }
      break;
    case RedisTarget::Hash:
      add({"HSET", key, column_text(config_.field_column, m.values, m.nulls, "target.field_column"),
           value});
      break;
    case RedisTarget::Stream:
      if (config_.max_length)
        add({"XADD", key, "MAXLEN", std::to_string(config_.max_length), "*", "value", value});
      else
        add({"XADD", key, "*", "value", value});
      break;
  }
  if (config_.ttl_secs) add({"EXPIRE", key, ttl});
}

void RedisSink::queue_delete(const Datum* values, const bool* nulls) {
  std::string key = key_of(values, nulls);
  if (config_.target == RedisTarget::Hash)
    queue_.push_back(redis_command(
        {"HDEL", key, column_text(config_.field_column, values, nulls, "target.field_column")}));
  else
    queue_.push_back(redis_command({"DEL", key}));
  queued_bytes_ += queue_.back().size();
}

void RedisSink::flush_inserts() {
  if (inserts_->empty()) return;
  encoder_->encode(*inserts_, emit_);
  inserts_->clear();
}

void RedisSink::write(const Batch& rows) {
  // In order: a delete and the insert after it (an update of one key) stay DEL, then SET.
  for (int i = 0; i < rows.size(); i++) {
    if (rows.op(i) == RowOp::Delete) {
      flush_inserts();
      queue_delete(rows.values(i), rows.nulls(i));
      continue;
    }
    if (inserts_->full()) flush_inserts();
    inserts_->append_rows(rows, i, i + 1);
  }
  flush_inserts();
  if (queued_bytes_ >= kMaxQueuedBytes) send();
}

// Sends the queued commands and waits for every reply (reconnecting as needed).
void RedisSink::send() {
  if (queue_.empty()) return;
  failed_ = true;  // until every reply has been read
  client_->run(queue_, [](size_t, const redisReply*) {});
  failed_ = false;
  queue_.clear();
  queued_bytes_ = 0;
}

void RedisSink::commit() {
  if (!client_) return;
  flush_inserts();
  encoder_->finish(emit_);
  send();
}

void RedisSink::close() {
  if (!client_) return;
  if (!failed_) commit();  // after a failed send, the pipeline is failing: nothing more is sent
  client_.reset();
}

}  // namespace arroyo
