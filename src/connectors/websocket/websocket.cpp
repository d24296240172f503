// websocket: a source reading a websocket API, like Arroyo's. A WsClient thread keeps the
// connection (reconnecting with backoff, re-sending the subscription messages every time) and
// queues complete messages; poll() decodes them into rows in the worker, where PostgreSQL may
// be called. Event time defaults to the time a message was received. A websocket has no
// replay: what the server sends while the source is disconnected or stopped is lost.
#include "core/connector.hpp"
#include "connectors/websocket/websocket_options.hpp"
#include "connectors/websocket/ws_client.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "pg/time.hpp"

#include <algorithm>
#include <unistd.h>

namespace arroyo {

namespace {

// The clients of this process. A worker may exit without unwinding (FATAL, SIGTERM): their
// threads are stopped first thing on the way out (before_shmem_exit), before the worker's
// latch goes away and before exit() runs OpenSSL's and libc's exit handlers under them.
std::vector<WsClient*> live_clients;

void stop_live_clients(int, Datum) {
  for (WsClient* client : live_clients) client->stop();
}

void track_client(WsClient* client) {
  static bool hooked = false;
  if (!hooked) pg::call([] { before_shmem_exit(stop_live_clients, 0); });
  hooked = true;
  live_clients.push_back(client);
}

void untrack_client(WsClient* client) {
  live_clients.erase(std::remove(live_clients.begin(), live_clients.end(), client),
                     live_clients.end());
}

class WebsocketSource : public Source {
 public:
  explicit WebsocketSource(const TableSpec& spec)
      : config_(websocket_client_config(spec)), decoder_(make_row_decoder(spec)), bad_data_(spec) {}

  void open(const RuntimeInfo&) override {
    if (!config_.ca_file.empty() && access(config_.ca_file.c_str(), R_OK) != 0)
      pg::fail(ERRCODE_UNDEFINED_FILE, "could not read the file of option \"tls_ca_file\": \"" +
                                           config_.ca_file + "\": " + strerror(errno));
    // The client thread wakes this worker through its latch, the one PostgreSQL function it
    // calls (SetLatch is safe from another thread).
    Latch* latch = MyLatch;
    client_ = std::make_unique<WsClient>(config_, [latch] { SetLatch(latch); });
    track_client(client_.get());
    try {
      client_->start();
    } catch (const std::exception& e) {
      untrack_client(client_.get());
      client_.reset();
      pg::fail(ERRCODE_CONNECTION_FAILURE, std::string("websocket source: ") + e.what());
    }
  }

  ~WebsocketSource() override {
    if (client_) untrack_client(client_.get());  // client_'s destructor stops it
  }

  PollResult poll(Batch& out) override {
    std::string why;
    if (client_->failed(&why))
      pg::fail(ERRCODE_INTERNAL_ERROR,
               "websocket client for " + config_.endpoint.url + " stopped: " + why);
    messages_.clear();
    int room = (out.capacity() - out.size()) / decoder_->max_rows_per_message();
    client_->take(messages_, size_t(room));
    if (messages_.empty()) return PollResult::idle();
    for (WsMessage& m : messages_) {
      message_number_++;
      bad_data_.decode(
          out, [&] { decode(m, out); }, [&] { return where(m); });
    }
    messages_.clear();
    return PollResult::data();
  }

  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  std::string status() const override { return client_ ? client_->status() : std::string(); }

  void close() override {
    if (client_) client_->stop();
  }

 private:
  // Appends the message's row, its event time the time it was received.
  void decode(const WsMessage& m, Batch& out) {
    if (m.oversized)
      pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
               "message of " + std::to_string(m.size) + " bytes exceeds max_message_size (" +
                   std::to_string(config_.max_message_bytes) + " bytes)");
    decoder_->decode(m.payload.data(), m.payload.size(), out,
                     m.received_unix_us - pg::kUnixToPostgresUs);
  }

  // "bad data in message 7 from ws://…", naming binary frames as such.
  std::string where(const WsMessage& m) const {
    return std::string("bad data in ") + (m.binary ? "binary " : "") + "message " +
           std::to_string(message_number_) + " from " + config_.endpoint.url;
  }

  WsClientConfig config_;
  std::unique_ptr<RowDecoder> decoder_;  // the table's format
  BadData bad_data_;
  std::unique_ptr<WsClient> client_;
  std::vector<WsMessage> messages_;
  int64 message_number_ = 0;
};

class WebsocketConnector : public Connector {
 public:
  const char* name() const override { return "websocket"; }

  void validate_table(const TableSpec& spec) const override { validate_websocket_options(spec); }

  TableRole role(const TableSpec&) const override { return TableRole::Source; }

  // tls_ca_file makes the server read a file, which needs pg_read_server_files as COPY does.
  void check_privileges(const TableSpec& spec, TableRole) const override {
    if (!spec.table_options.count("tls_ca_file")) return;
    if (!pg::call([&] { return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES); }))
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
               "must be superuser or have privileges of the pg_read_server_files role to use "
               "option \"tls_ca_file\"");
  }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<WebsocketSource>(spec);
  }
};

}  // namespace

const Connector& websocket_connector() {
  static const WebsocketConnector connector;
  return connector;
}

}  // namespace arroyo
