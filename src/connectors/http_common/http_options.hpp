// Options shared by the HTTP connectors (sse, polling_http, webhook): the endpoint, the
// headers (a table's, merged with its user mapping's, where secrets belong), the size limit of
// what is read from the network. Errors name the option.
#pragma once

#include "core/connector.hpp"
#include "connectors/http_common/http_client.hpp"

namespace arroyo {

constexpr int64 kHttpDefaultMaxMessageBytes = int64(4) << 20;
constexpr int64 kHttpMaxMaxMessageBytes = int64(256) << 20;
// The queue between a source's client thread and its worker; the thread waits at either bound.
constexpr size_t kHttpQueueMaxMessages = 8192;
constexpr size_t kHttpQueueMaxBytes = size_t(16) << 20;

// The user mapping options of the HTTP connectors: `headers`, merged with the table's.
std::vector<OptionSpec> http_user_mapping_specs();

// Checks the table options every HTTP connector takes: endpoint, headers, max_message_size
// (when `with_max_size`) and the columns (none take options); `where` names the tables
// ("connector \"sse\" tables") in errors.
void validate_http_common(const TableSpec& spec, const std::string& where, bool with_max_size);

// The endpoint option (validated).
std::string http_endpoint(const TableSpec& spec);
// The request headers: the table's `headers`, then the user mapping's `headers` (replacing a
// table header of the same name). Fails naming the option for a malformed list.
std::vector<HttpHeader> http_request_headers(const TableSpec& spec);
// max_message_size, or its default.
size_t http_max_message_size(const TableSpec& spec);
// Whether `headers` sets a header named `name` (case-insensitively).
bool http_has_header(const std::vector<HttpHeader>& headers, const char* name);

[[noreturn]] void http_bad_value(const std::string& option, const std::string& value,
                                 const std::string& why);

}  // namespace arroyo

namespace arroyo {

// Keeps a source's client thread on the list of threads stopped first thing when the worker
// exits without unwinding (FATAL, SIGTERM), before its latch goes away; untrack before
// destroying it.
void http_track_thread(HttpThread* thread);
void http_untrack_thread(HttpThread* thread);

// Starts a source's client thread, tracked, waking this process's latch; fails with `what`.
void http_start_thread(HttpThread* thread, const std::string& what);

}  // namespace arroyo
