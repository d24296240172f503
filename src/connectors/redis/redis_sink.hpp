// The redis sink: each row becomes a command on the key target.key_prefix + the text of
// target.key_column, its value the row in the table's format: SET [EX ttl] (string), RPUSH or
// LPUSH [+ LTRIM] (list), HSET on the field target.field_column (hash), XADD [MAXLEN] with the
// field "value" (stream); EXPIRE after a list, hash or stream write with target.ttl_secs. A
// deleted row of an updating result is DEL (string) or HDEL (hash). Commands are queued and
// sent pipelined at commit() (before the pipeline's transaction commits), or earlier when the
// queue grows past 4 MiB: at least once, effectively exactly once for string and hash targets
// (idempotent writes replayed in order), while lists and streams may repeat rows after a crash.
#pragma once

#include "connectors/redis/redis_client.hpp"
#include "formats/format.hpp"
#include "formats/json.hpp"

#include <memory>

namespace arroyo {

class RedisSink : public Sink {
 public:
  explicit RedisSink(const TableSpec& spec);
  void open(const RuntimeInfo& info) override;
  void write(const Batch& rows) override;
  void commit() override;
  std::string status() const override { return client_ ? label_ + ": " + client_->status() : ""; }
  void close() override;

 private:
  // Queues the commands of one encoded (inserted) row.
  void queue_insert(const EncodedMessage& m);
  // Queues the delete of one row.
  void queue_delete(const Datum* values, const bool* nulls);
  // Encodes and queues the inserted rows gathered in inserts_.
  void flush_inserts();
  // The text of column `col` of a row (its type's output function); fails on NULL.
  std::string column_text(int col, const Datum* values, const bool* nulls, const char* option);
  std::string key_of(const Datum* values, const bool* nulls);
  void send();

  TableSpec spec_;
  RedisTableConfig config_;
  RedisConnection connection_;
  std::string label_;
  std::unique_ptr<RowEncoder> encoder_;
  MessageEmitter emit_;
  std::vector<FmgrInfo> output_;  // per column: its type's output function (key, field)
  OwnedMemoryContext context_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<Batch> inserts_;
  std::vector<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool failed_ = false;  // a send threw (a Redis error, an interrupt)
};

}  // namespace arroyo
