// The AMQP 0-9-1 connection of a rabbitmq source or sink (librabbitmq), used only by the
// worker's own thread, plus what both need around it: the text of AMQP errors, a reconnect
// backoff, and a SocketWaker thread that sets the worker's latch when the socket has data.
#pragma once

#include "connectors/rabbitmq/rabbitmq_options.hpp"

#include <amqp.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace arroyo {

// The one channel each connection opens.
constexpr amqp_channel_t kRabbitChannel = 1;

// The outcome of an AMQP call that failed.
struct RabbitFailure {
  std::string text;
  // Waiting will not fix it: refused credentials or access, a missing queue or exchange.
  bool permanent = false;
};

// One connection with one open channel.
class RabbitConnection {
 public:
  explicit RabbitConnection(RabbitEndpoint endpoint) : endpoint_(std::move(endpoint)) {}
  ~RabbitConnection() { drop(); }
  RabbitConnection(const RabbitConnection&) = delete;
  RabbitConnection& operator=(const RabbitConnection&) = delete;

  // Connects, logs in and opens the channel; false (with why) if any step failed.
  bool connect(RabbitFailure* why);
  bool connected() const { return conn_ != nullptr; }
  amqp_connection_state_t state() const { return conn_; }
  int fd() const;
  // Closes the channel and the connection politely (errors ignored), then frees it.
  void close();
  // Frees the connection at once, without the closing handshake (after a failure).
  void drop();
  // The failure of the last RPC on this connection (reply of a librabbitmq call).
  RabbitFailure failure(const amqp_rpc_reply_t& reply, const std::string& doing) const;
  // The failure a frame announcing closure (channel.close / connection.close) carries.
  static RabbitFailure closed_by_server(const amqp_frame_t& frame);
  const RabbitEndpoint& endpoint() const { return endpoint_; }

 private:
  RabbitEndpoint endpoint_;
  amqp_connection_state_t conn_ = nullptr;
};

// Exponential backoff between connection attempts: 100 ms, doubling up to 10 s.
class RabbitBackoff {
 public:
  // After a failure: when to try again.
  TimestampTz failed(TimestampTz now);
  void succeeded() { attempts_ = 0; }
  int attempts() const { return attempts_; }

 private:
  int attempts_ = 0;
};

// A thread that, once armed with a socket, sets a latch when the socket becomes readable (or
// closes), then disarms: the worker sleeps on its latch and still wakes for AMQP frames. It
// only polls the descriptor; it never touches the connection or calls PostgreSQL except
// SetLatch (safe from another thread).
class SocketWaker {
 public:
  explicit SocketWaker(Latch* latch);
  ~SocketWaker();
  void arm(int fd);
  void disarm();

 private:
  void run();
  Latch* latch_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int fd_ = -1;
  bool armed_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace arroyo
