#include "connectors/rabbitmq/rabbitmq_client.hpp"

#include <amqp_tcp_socket.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

namespace arroyo {

namespace {

constexpr int kConnectTimeoutSec = 5;
constexpr int64 kFirstBackoffUs = 100 * 1000;
constexpr int64 kMaxBackoffUs = 10 * USECS_PER_SEC;
constexpr int kWakerPollMs = 200;

std::string bytes_text(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

// Reply codes after which reconnecting will not help: access refused, not found, precondition
// failed (a queue declared with other arguments), not allowed.
bool permanent_code(int code) { return code == 403 || code == 404 || code == 406 || code == 530; }

}  // namespace

bool RabbitConnection::connect(RabbitFailure* why) {
  drop();
  conn_ = amqp_new_connection();
  if (!conn_) {
    *why = {"out of memory", false};
    return false;
  }
  amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
  if (!socket) {
    *why = {"could not create a socket", false};
    drop();
    return false;
  }
  struct timeval timeout = {kConnectTimeoutSec, 0};
  amqp_set_handshake_timeout(conn_, &timeout);
  amqp_set_rpc_timeout(conn_, &timeout);
  int status = amqp_socket_open_noblock(socket, endpoint_.host.c_str(), endpoint_.port, &timeout);
  if (status != AMQP_STATUS_OK) {
    *why = {"could not connect to " + endpoint_.display() + ": " + amqp_error_string2(status),
            false};
    drop();
    return false;
  }
  amqp_rpc_reply_t r =
      amqp_login(conn_, endpoint_.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                 AMQP_SASL_METHOD_PLAIN, endpoint_.username.c_str(), endpoint_.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    *why = failure(r, "log in to " + endpoint_.display() + " as \"" + endpoint_.username + "\"");
    // RabbitMQ closes the socket on refused credentials: librabbitmq sees only that.
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_CONNECTION_CLOSED)
      why->text += " (refused credentials or virtual host?)";
    drop();
    return false;
  }
  amqp_channel_open(conn_, kRabbitChannel);
  r = amqp_get_rpc_reply(conn_);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    *why = failure(r, "open a channel");
    drop();
    return false;
  }
  return true;
}

int RabbitConnection::fd() const { return conn_ ? amqp_get_sockfd(conn_) : -1; }

void RabbitConnection::close() {
  if (!conn_) return;
  amqp_channel_close(conn_, kRabbitChannel, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  drop();
}

void RabbitConnection::drop() {
  if (!conn_) return;
  amqp_destroy_connection(conn_);
  conn_ = nullptr;
}

RabbitFailure RabbitConnection::failure(const amqp_rpc_reply_t& reply,
                                        const std::string& doing) const {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL: return {};
    case AMQP_RESPONSE_NONE: return {"could not " + doing + ": no reply", false};
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return {"could not " + doing + ": " + amqp_error_string2(reply.library_error), false};
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return {"could not " + doing +
                    ": the server closed the connection: " + bytes_text(m->reply_text),
                permanent_code(m->reply_code)};
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return {"could not " + doing +
                    ": the server closed the channel: " + bytes_text(m->reply_text),
                permanent_code(m->reply_code)};
      }
      return {"could not " + doing + ": unexpected server reply", false};
  }
  return {"could not " + doing, false};
}

RabbitFailure RabbitConnection::closed_by_server(const amqp_frame_t& frame) {
  if (frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
    return {"the server closed the connection: " + bytes_text(m->reply_text),
            permanent_code(m->reply_code)};
  }
  auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
  return {"the server closed the channel: " + bytes_text(m->reply_text),
          permanent_code(m->reply_code)};
}

TimestampTz RabbitBackoff::failed(TimestampTz now) {
  int64 delay = kFirstBackoffUs;
  for (int i = 0; i < attempts_ && delay < kMaxBackoffUs; i++) delay *= 2;
  attempts_++;
  return now + std::min(delay, kMaxBackoffUs);
}

// The thread starts with every signal blocked: PostgreSQL's handlers must run in the worker's
// own thread.
SocketWaker::SocketWaker(Latch* latch) : latch_(latch) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

SocketWaker::~SocketWaker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SocketWaker::arm(int fd) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fd_ = fd;
    armed_ = fd >= 0;
  }
  cv_.notify_all();
}

void SocketWaker::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
}

// Waits to be armed, then polls the socket in slices (so disarm and stop take effect).
void SocketWaker::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (!armed_) {
      cv_.wait(lock, [this] { return stop_ || armed_; });
      continue;
    }
    int fd = fd_;
    lock.unlock();
    struct pollfd p = {fd, POLLIN, 0};
    int n = ::poll(&p, 1, kWakerPollMs);
    lock.lock();
    if (n != 0 && armed_ && fd_ == fd) {
      armed_ = false;
      SetLatch(latch_);
    }
  }
}

}  // namespace arroyo
