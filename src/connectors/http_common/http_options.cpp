#include "connectors/http_common/http_options.hpp"

#include "pg/guard.hpp"

#include <algorithm>
#include <strings.h>

namespace arroyo {

namespace {

// Headers that carry credentials: only a user mapping may set them.
const char* const kSecretHeaders[] = {"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key",
                                      "X-Auth-Token"};

// The header list of option `name` of a table, or of a user mapping (`secret`).
std::vector<HttpHeader> parse_option(const Options& opts, const std::string& name, bool secret) {
  std::string label = secret ? "user mapping option" : "option";
  std::vector<HttpHeader> out;
  auto text = get_option(opts, name);
  std::string why;
  if (text && !parse_http_headers(*text, &out, &why)) {
    // The reason may quote a header; a user mapping's may hold a secret.
    if (secret)
      why =
          "Expected 'Name: value' pairs separated by commas (the value is not shown: it may "
          "hold a secret).";
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "invalid value for " + label + " \"" + name + "\"",
             why);
  }
  return out;
}

}  // namespace

void http_bad_value(const std::string& option, const std::string& value, const std::string& why) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"" + option + "\": \"" + value + "\"", why);
}

std::vector<OptionSpec> http_user_mapping_specs() { return {{"headers", OptionKind::Text}}; }

bool http_has_header(const std::vector<HttpHeader>& headers, const char* name) {
  for (const HttpHeader& h : headers)
    if (strcasecmp(h.name.c_str(), name) == 0) return true;
  return false;
}

void validate_http_common(const TableSpec& spec, const std::string& where, bool with_max_size) {
  http_endpoint(spec);
  std::vector<HttpHeader> headers = parse_option(spec.table_options, "headers", false);
  // A user mapping's headers, when the spec carries them (a pipeline using the table).
  parse_option(spec.user_options, "headers", true);
  for (const char* secret : kSecretHeaders)
    if (http_has_header(headers, secret))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               std::string("option \"headers\" may not set header \"") + secret + "\"",
               "Table options are visible to every user.",
               "Put secret headers in a user mapping: CREATE USER MAPPING FOR ... SERVER ... "
               "OPTIONS (headers '" +
                   std::string(secret) + ": ...').");
  if (with_max_size) {
    int64 max = option_int(spec.table_options, "max_message_size", kHttpDefaultMaxMessageBytes);
    if (max > kHttpMaxMaxMessageBytes)
      http_bad_value("max_message_size", *get_option(spec.table_options, "max_message_size"),
                     "The largest allowed is " + std::to_string(kHttpMaxMaxMessageBytes) +
                         " (256 MiB).");
  }
  for (const ColumnInfo& col : spec.columns)
    validate_options(col.options, {}, "columns of " + where);
}

std::string http_endpoint(const TableSpec& spec) {
  std::string url = get_option(spec.table_options, "endpoint").value_or("");
  std::string why;
  if (!check_http_endpoint(url, &why)) http_bad_value("endpoint", url, why);
  return url;
}

std::vector<HttpHeader> http_request_headers(const TableSpec& spec) {
  std::vector<HttpHeader> out = parse_option(spec.table_options, "headers", false);
  for (HttpHeader& h : parse_option(spec.user_options, "headers", true)) {
    bool replaced = false;
    for (HttpHeader& t : out)
      if (strcasecmp(t.name.c_str(), h.name.c_str()) == 0) {
        t.value = h.value;
        replaced = true;
      }
    if (!replaced) out.push_back(std::move(h));
  }
  return out;
}

size_t http_max_message_size(const TableSpec& spec) {
  return size_t(option_int(spec.table_options, "max_message_size", kHttpDefaultMaxMessageBytes));
}

}  // namespace arroyo

namespace arroyo {

namespace {

std::vector<HttpThread*> live_threads;

void stop_live_threads(int, Datum) {
  for (HttpThread* t : live_threads) t->stop();
}

}  // namespace

void http_track_thread(HttpThread* thread) {
  static bool hooked = false;
  if (!hooked) pg::call([] { before_shmem_exit(stop_live_threads, 0); });
  hooked = true;
  live_threads.push_back(thread);
}

void http_untrack_thread(HttpThread* thread) {
  live_threads.erase(std::remove(live_threads.begin(), live_threads.end(), thread),
                     live_threads.end());
}

void http_start_thread(HttpThread* thread, const std::string& what) {
  http_track_thread(thread);
  try {
    thread->start();
  } catch (const std::exception& e) {
    http_untrack_thread(thread);
    pg::fail(ERRCODE_CONNECTION_FAILURE, what + ": " + e.what());
  }
}

}  // namespace arroyo
