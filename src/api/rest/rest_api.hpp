// The REST API: a background worker serving HTTP(S) (http_server.hpp) whose main thread runs
// each request in a transaction, as the PostgreSQL role its bearer token belongs to, through
// the SQL API (stream_create, stream_start, ...). See the README's "REST API" section.
#pragma once

#include "api/rest/http_server.hpp"

namespace arroyo {

// GUCs (defined and the worker registered by rest_api_init, at shared_preload_libraries time).
extern int api_port;  // 0: no API
extern char* api_listen_addresses;
extern char* api_database;
extern char* api_tls_cert;
extern char* api_tls_key;
extern bool api_allow_superuser;

// Defines the arroyo_stream.api_* GUCs and registers the API worker if api_port > 0.
void rest_api_init();

// Answers one request (in the API worker, outside any transaction; starts and ends its own).
HttpResponse handle_rest_request(const HttpRequest& request);

// The OpenAPI 3 document served at /api/v1/openapi.json.
const char* rest_openapi_document();

// `s` as a JSON string literal, quotes included.
std::string json_quote(const std::string& s);

}  // namespace arroyo
