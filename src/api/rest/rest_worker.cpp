// The REST API's background worker: its GUCs, its registration at server start, and its main
// loop, which takes the requests the HTTP thread queued and answers them one at a time.
#include "api/rest/preview_stream.hpp"
#include "api/rest/rest_api.hpp"
#include "pg/guard.hpp"
#include "pg/wait.hpp"

extern "C" {
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "utils/backend_status.h"
}

#include <stdexcept>

namespace arroyo {

int api_port = 0;
char* api_listen_addresses = nullptr;
char* api_database = nullptr;
char* api_tls_cert = nullptr;
char* api_tls_key = nullptr;
bool api_allow_superuser = false;

namespace {

constexpr size_t kRequestsPerRound = 16;

// api_listen_addresses as the HTTP server takes them: "localhost" is 127.0.0.1.
std::vector<std::string> listen_addresses() {
  std::vector<std::string> out;
  std::string all = api_listen_addresses ? api_listen_addresses : "";
  size_t pos = 0;
  while (pos <= all.size()) {
    size_t comma = all.find(',', pos);
    if (comma == std::string::npos) comma = all.size();
    std::string a = all.substr(pos, comma - pos);
    size_t b = a.find_first_not_of(" \t"), e = a.find_last_not_of(" \t");
    a = b == std::string::npos ? "" : a.substr(b, e - b + 1);
    if (a == "localhost") a = "127.0.0.1";
    if (!a.empty()) out.push_back(a);
    pos = comma + 1;
  }
  return out;
}

// Connects to api_database, starts the HTTP server and answers requests until shutdown.
void serve() {
  pg::call([&] {
    BackgroundWorkerInitializeConnection(api_database, nullptr, 0);
    pgstat_report_appname("arroyo_stream api");
  });
  HttpServerConfig config;
  config.port = api_port;
  config.addresses = listen_addresses();
  if (config.addresses.empty())
    throw std::runtime_error("arroyo_stream.api_listen_addresses names no address");
  config.tls_cert_file = api_tls_cert ? api_tls_cert : "";
  config.tls_key_file = api_tls_key ? api_tls_key : "";
  if (config.tls_cert_file.empty() != config.tls_key_file.empty())
    throw std::runtime_error(
        "arroyo_stream.api_tls_cert and arroyo_stream.api_tls_key must be set together");
  Latch* latch = MyLatch;
  HttpServer server(config, [latch] { SetLatch(latch); });
  server.start();
  std::string scheme = config.tls_cert_file.empty() ? "http" : "https";
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream API listening on %s port %d (%s), database \"%s\"",
                         api_listen_addresses, api_port, scheme.c_str(), api_database)));
  });
  std::vector<std::unique_ptr<RestPreview>> previews;  // streaming their rows
  while (!ShutdownRequestPending) {
    std::string why;
    if (server.failed(&why)) throw std::runtime_error("the HTTP server stopped: " + why);
    std::vector<HttpRequest> batch = server.take(kRequestsPerRound);
    for (const HttpRequest& request : batch) {
      if (ConfigReloadPending) {
        ConfigReloadPending = false;
        pg::call([&] { ProcessConfigFile(PGC_SIGHUP); });
      }
      HttpResponse response = handle_rest_request(request);
      std::unique_ptr<RestPreview> preview = take_started_preview();
      if (preview && response.streamed) {
        preview->attach(request.id);
        previews.push_back(std::move(preview));
      }
      server.respond(request.id, std::move(response));
    }
    // Each preview's rows that have arrived; a finished one stops its worker.
    TimestampTz wake = 0;
    for (size_t i = 0; i < previews.size();) {
      if (!previews[i]->pump(server)) {
        previews.erase(previews.begin() + long(i));
        continue;
      }
      TimestampTz d = previews[i]->deadline();
      if (d && (!wake || d < wake)) wake = d;
      i++;
    }
    if (batch.empty()) {
      long timeout_ms = 1000;
      if (wake) {
        TimestampTz now = GetCurrentTimestamp();
        timeout_ms = std::min(1000L, wake > now ? long((wake - now + 999) / 1000) : 0L);
      }
      pg::wait_latch(timeout_ms);
      if (ConfigReloadPending) {
        ConfigReloadPending = false;
        pg::call([&] { ProcessConfigFile(PGC_SIGHUP); });
      }
    }
  }
}

}  // namespace

void rest_api_init() {
  DefineCustomIntVariable("arroyo_stream.api_port",
                          "TCP port of the REST API (0: no API). Needs a restart.", nullptr,
                          &api_port, 0, 0, 65535, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "arroyo_stream.api_listen_addresses",
      "Comma-separated IP addresses the REST API listens on ('*': all, 'localhost': 127.0.0.1).",
      nullptr, &api_listen_addresses, "localhost", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "arroyo_stream.api_database", "The database whose pipelines the REST API manages.", nullptr,
      &api_database, "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable("arroyo_stream.api_tls_cert",
                             "PEM certificate file of the REST API (with api_tls_key: HTTPS).",
                             nullptr, &api_tls_cert, "", PGC_POSTMASTER, 0, nullptr, nullptr,
                             nullptr);
  DefineCustomStringVariable("arroyo_stream.api_tls_key", "PEM private key of the REST API.",
                             nullptr, &api_tls_key, "", PGC_POSTMASTER, GUC_SUPERUSER_ONLY, nullptr,
                             nullptr, nullptr);
  DefineCustomBoolVariable("arroyo_stream.api_allow_superuser",
                           "Whether REST API tokens of superusers are accepted.", nullptr,
                           &api_allow_superuser, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  if (api_port == 0) return;
  BackgroundWorker w;
  memset(&w, 0, sizeof(w));
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = 10;
  strlcpy(w.bgw_library_name, "arroyo_stream", BGW_MAXLEN);
  strlcpy(w.bgw_function_name, "arroyo_stream_api_main", BGW_MAXLEN);
  strlcpy(w.bgw_type, "arroyo_stream api", BGW_MAXLEN);
  strlcpy(w.bgw_name, "arroyo_stream api", BGW_MAXLEN);
  RegisterBackgroundWorker(&w);
}

}  // namespace arroyo

extern "C" {

PGDLLEXPORT void arroyo_stream_api_main(Datum);

void arroyo_stream_api_main(Datum) {
  pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  BackgroundWorkerUnblockSignals();
  try {
    arroyo::serve();
  } catch (const std::exception& e) {
    std::string message = e.what();
    try {
      pg::call([&] { ereport(LOG, (errmsg("arroyo_stream API exiting: %s", message.c_str()))); });
    } catch (...) {
    }
  }
  // Always 1, so that the postmaster starts the API again (after bgw_restart_time) whatever
  // ended it, a pg_terminate_backend included; at a server shutdown nothing is restarted.
  proc_exit(1);
}

}  // extern "C"
