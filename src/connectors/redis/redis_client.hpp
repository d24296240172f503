// A blocking hiredis connection of one table (a sink's or a lookup's), used only by the
// pipeline's worker thread: commands are pipelined (all sent, then the replies read); a lost
// connection is re-established with backoff (100 ms doubling to 5 s, interruptible, its state
// in status()) and the commands whose replies were not read are sent again. A Redis error
// reply (WRONGTYPE, NOAUTH, ...) fails the pipeline.
#pragma once

#include "connectors/redis/redis_options.hpp"

#include <functional>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace arroyo {

// One command in RESP form, built from its arguments.
std::string redis_command(const std::vector<std::string>& args);

class RedisClient {
 public:
  // `label` names the table in messages; `report` (may be empty) publishes status() at once
  // while run() waits to reconnect.
  RedisClient(RedisConnection connection, std::string label,
              std::function<void(const std::string&)> report = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs `commands` pipelined; on_reply(i, reply) sees the reply of command i, once, in order
  // (it may throw). Retries across reconnects until every reply has been read.
  void run(const std::vector<std::string>& commands,
           const std::function<void(size_t, const redisReply*)>& on_reply);
  // "connected to redis://…", "reconnecting to redis://… (attempt 3): …".
  std::string status() const { return status_; }
  int64 reconnects() const { return reconnects_; }

 private:
  // Connects, authenticates and selects the database; false (with why) on a transient failure.
  bool connect(std::string* why);
  void disconnect();
  // Sends commands [from, end) and reads their replies; false (with why) if the connection was
  // lost, `from` then being the first command whose reply is still missing.
  bool exchange(const std::vector<std::string>& commands, size_t& from,
                const std::function<void(size_t, const redisReply*)>& on_reply, std::string* why);
  void set_status(const std::string& status);

  RedisConnection connection_;
  std::string label_;
  std::function<void(const std::string&)> report_;
  redisContext* ctx_ = nullptr;
  std::string status_;
  int64 reconnects_ = 0;
  bool ever_connected_ = false;
};

}  // namespace arroyo
