#include "connectors/redis/redis_client.hpp"

#include "pg/guard.hpp"
#include "pg/wait.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace arroyo {

namespace {

constexpr long kFirstBackoffMs = 100;
constexpr long kMaxBackoffMs = 5000;
constexpr int kConnectTimeoutMs = 2000;
constexpr int kCommandTimeoutMs = 10000;       // a reply not read by then: the connection is lost
constexpr size_t kMaxPipelineBytes = 4 << 20;  // sent before the replies are read

timeval millis(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

// Error replies that say the server is not ready yet rather than that the command is wrong.
bool transient_error(const std::string& text) {
  return text.rfind("LOADING", 0) == 0 || text.rfind("BUSY", 0) == 0 ||
         text.rfind("TRYAGAIN", 0) == 0 || text.rfind("MASTERDOWN", 0) == 0;
}

// The error of a context, or of a failed reply.
std::string context_error(redisContext* ctx) {
  if (!ctx) return "could not allocate a connection";
  std::string text = ctx->errstr[0] ? ctx->errstr : "connection lost";
  return text;
}

}  // namespace

std::string redis_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

RedisClient::RedisClient(RedisConnection connection, std::string label,
                         std::function<void(const std::string&)> report)
    : connection_(std::move(connection)), label_(std::move(label)), report_(std::move(report)) {
  status_ = "not connected to " + connection_.endpoint.url();
}

RedisClient::~RedisClient() { disconnect(); }

void RedisClient::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

void RedisClient::set_status(const std::string& status) {
  status_ = status;
  if (report_) report_(status_);
}

bool RedisClient::connect(std::string* why) {
  disconnect();
  const RedisEndpoint& e = connection_.endpoint;
  ctx_ = redisConnectWithTimeout(e.host.c_str(), e.port, millis(kConnectTimeoutMs));
  if (!ctx_ || ctx_->err) {
    *why = context_error(ctx_);
    disconnect();
    return false;
  }
  redisSetTimeout(ctx_, millis(kCommandTimeoutMs));
  std::vector<std::string> setup;
  if (!connection_.password.empty()) {
    if (connection_.username.empty())
      setup.push_back(redis_command({"AUTH", connection_.password}));
    else
      setup.push_back(redis_command({"AUTH", connection_.username, connection_.password}));
  }
  if (e.db) setup.push_back(redis_command({"SELECT", std::to_string(e.db)}));
  setup.push_back(redis_command({"PING"}));
  for (const std::string& c : setup) redisAppendFormattedCommand(ctx_, c.data(), c.size());
  for (size_t i = 0; i < setup.size(); i++) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK || !r) {
      *why = context_error(ctx_);
      disconnect();
      return false;
    }
    redisReply* reply = (redisReply*)r;
    std::string error = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    if (error.empty()) continue;
    disconnect();
    if (transient_error(error)) {
      *why = error;
      return false;
    }
    bool auth = error.rfind("NOAUTH", 0) == 0 || error.rfind("WRONGPASS", 0) == 0 ||
                error.find("AUTH") != std::string::npos;
    pg::fail(auth ? ERRCODE_INVALID_PASSWORD : ERRCODE_CONNECTION_FAILURE,
             label_ + ": Redis at " + e.url() + " refused the connection: " + error, {},
             auth ? "Give the username and password in a user mapping: CREATE USER MAPPING FOR "
                    "… SERVER … OPTIONS (password '…')."
                  : std::string());
  }
  return true;
}

bool RedisClient::exchange(const std::vector<std::string>& commands, size_t& from,
                           const std::function<void(size_t, const redisReply*)>& on_reply,
                           std::string* why) {
  while (from < commands.size()) {
    // A window of commands, sent together, then its replies.
    size_t end = from, bytes = 0;
    while (end < commands.size() && (end == from || bytes < kMaxPipelineBytes))
      bytes += commands[end++].size();
    for (size_t i = from; i < end; i++)
      if (redisAppendFormattedCommand(ctx_, commands[i].data(), commands[i].size()) != REDIS_OK) {
        *why = context_error(ctx_);
        return false;
      }
    for (size_t i = from; i < end; i++) {
      void* r = nullptr;
      if (redisGetReply(ctx_, &r) != REDIS_OK || !r) {
        *why = context_error(ctx_);
        return false;
      }
      redisReply* reply = (redisReply*)r;
      if (reply->type == REDIS_REPLY_ERROR) {
        std::string error(reply->str, reply->len);
        freeReplyObject(reply);
        if (transient_error(error)) {
          *why = error;
          return false;
        }
        bool auth = error.rfind("NOAUTH", 0) == 0 || error.rfind("WRONGPASS", 0) == 0;
        pg::fail(auth ? ERRCODE_INVALID_PASSWORD : ERRCODE_FDW_ERROR,
                 label_ + ": Redis error: " + error, {},
                 auth ? "Give the password in a user mapping: CREATE USER MAPPING FOR … SERVER "
                        "… OPTIONS (password '…')."
                      : std::string());
      }
      try {
        on_reply(i, reply);
      } catch (...) {
        freeReplyObject(reply);
        throw;
      }
      freeReplyObject(reply);
      from = i + 1;
    }
  }
  return true;
}

void RedisClient::run(const std::vector<std::string>& commands,
                      const std::function<void(size_t, const redisReply*)>& on_reply) {
  size_t from = 0;
  long backoff = kFirstBackoffMs;
  int attempt = 0;
  std::string why;
  const std::string url = connection_.endpoint.url();
  while (true) {
    bool ok = ctx_ != nullptr;
    if (!ok) {
      ok = connect(&why);
      if (ok) {
        if (ever_connected_) reconnects_++;
        if (attempt > 0 || !ever_connected_) {
          if (attempt > 0)
            pg::call([&] {
              ereport(LOG, (errmsg("arroyo_stream: %s: reconnected to Redis at %s", label_.c_str(),
                                   url.c_str())));
            });
          set_status("connected to " + url +
                     (reconnects_ ? " (reconnected " + std::to_string(reconnects_) + " times)"
                                  : std::string()));
        }
        ever_connected_ = true;
        attempt = 0;
        backoff = kFirstBackoffMs;
      }
    }
    if (ok) {
      try {
        if (exchange(commands, from, on_reply, &why)) return;
      } catch (...) {
        disconnect();  // replies of the window may be unread
        throw;
      }
      disconnect();
    }
    attempt++;
    if (attempt == 1)
      pg::call([&] {
        ereport(LOG, (errmsg("arroyo_stream: %s: lost Redis at %s, reconnecting: %s",
                             label_.c_str(), url.c_str(), why.c_str())));
      });
    set_status("reconnecting to " + url + " (attempt " + std::to_string(attempt) + "): " + why);
    pg::wait_latch(backoff);
    backoff = std::min(backoff * 2, kMaxBackoffMs);
  }
}

}  // namespace arroyo
