// The REST API's requests: routing, bearer-token authentication, and each endpoint as calls
// of the SQL API (stream_create, stream_start, stream_stop, stream_drop, the stream_pipelines
// and stream_checkpoints views) through SPI, in one transaction per request, as the token's
// role. Errors are JSON with PostgreSQL's SQLSTATE and message.
#include "api/rest/preview_stream.hpp"
#include "api/rest/rest_api.hpp"
#include "pg/guard.hpp"
#include "planner/planner.hpp"

extern "C" {
#include "mb/pg_wchar.h"
#include "pgstat.h"
#include "utils/backend_status.h"
}

#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

namespace arroyo {

namespace {

// An answer decided before or instead of SQL: a status with a JSON error.
struct HttpError {
  int status;
  std::string sqlstate;
  std::string message;
  std::string detail;
};

[[noreturn]] void http_fail(int status, const char* sqlstate, std::string message,
                            std::string detail = {}) {
  throw HttpError{status, sqlstate, std::move(message), std::move(detail)};
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (!r.body.empty()) r.body += "\n";
  return r;
}

HttpResponse error_response(int status, const std::string& sqlstate, const std::string& message,
                            const std::string& detail = {}, const std::string& hint = {}) {
  std::string body =
      "{\"error\": " + json_quote(message) + ", \"sqlstate\": " + json_quote(sqlstate);
  if (!detail.empty()) body += ", \"detail\": " + json_quote(detail);
  if (!hint.empty()) body += ", \"hint\": " + json_quote(hint);
  HttpResponse r = json_response(status, body + "}");
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"arroyo_stream\"");
  return r;
}

// The HTTP status of a PostgreSQL error: privileges 403, conflicts 409, resources 503,
// internal errors 500, everything else (the request's fault) 400.
int status_of(int sqlerrcode) {
  if (sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE) return 403;
  if (sqlerrcode == ERRCODE_DUPLICATE_OBJECT || sqlerrcode == ERRCODE_OBJECT_IN_USE) return 409;
  switch (ERRCODE_TO_CATEGORY(sqlerrcode)) {
    case ERRCODE_INSUFFICIENT_RESOURCES:
    case ERRCODE_OPERATOR_INTERVENTION: return 503;
    case ERRCODE_INTERNAL_ERROR:
    case ERRCODE_SYSTEM_ERROR: return 500;
    default: return 400;
  }
}

HttpResponse pg_error_response(const pg::Error& e) {
  const char* code = pg::call([&] { return unpack_sql_state(e.sqlerrcode()); });
  return error_response(status_of(e.sqlerrcode()), code, e.message(), e.detail(), e.hint());
}

// --- SPI helpers ------------------------------------------------------------------------------

using Row = std::vector<std::optional<std::string>>;

// Runs one statement with text parameters (in the request's SPI connection); returns its rows.
std::vector<Row> query(const std::string& sql, const std::vector<std::string>& params) {
  int n = int(params.size());
  Oid* types = pg::call([&] { return (Oid*)palloc0(sizeof(Oid) * (n + 1)); });
  Datum* values = pg::call([&] { return (Datum*)palloc0(sizeof(Datum) * (n + 1)); });
  for (int i = 0; i < n; i++) {
    const std::string& p = params[i];
    types[i] = TEXTOID;
    // Text from the network: valid in the database's encoding, without NUL bytes, or an error.
    pg::call([&] { (void)pg_verifymbstr(p.data(), int(p.size()), false); });
    values[i] =
        pg::call([&] { return PointerGetDatum(cstring_to_text_with_len(p.data(), p.size())); });
  }
  const char* sql_c = sql.c_str();
  pg::call([&] {
    int rc = SPI_execute_with_args(sql_c, n, types, values, nullptr, false, 0);
    if (rc < 0) elog(ERROR, "arroyo_stream API query failed (%d)", rc);
  });
  std::vector<Row> rows;
  uint64 count = SPI_tuptable ? SPI_processed : 0;
  int ncols = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
  for (uint64 r = 0; r < count; r++) {
    Row row;
    for (int c = 0; c < ncols; c++) {
      char* v = pg::call(
          [&] { return SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1); });
      if (v)
        row.emplace_back(std::string(v));
      else
        row.emplace_back(std::nullopt);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The single value of a one-row, one-column query.
std::optional<std::string> query_value(const std::string& sql,
                                       const std::vector<std::string>& params) {
  std::vector<Row> rows = query(sql, params);
  if (rows.empty() || rows[0].empty()) return std::nullopt;
  return rows[0][0];
}

// --- request bodies ---------------------------------------------------------------------------

struct Field {
  std::string type;                 // jsonb_typeof: string, number, boolean, null, object, array
  std::optional<std::string> text;  // scalars as text (a string unquoted), NULL for null
};

// The top-level fields of a JSON object body; refuses another JSON value and unknown fields.
std::map<std::string, Field> body_fields(const std::string& body,
                                         const std::vector<std::string>& accepted) {
  std::string text = body.empty() ? "{}" : body;
  std::optional<std::string> type =
      query_value("SELECT pg_catalog.jsonb_typeof($1::jsonb)", {text});
  if (type != std::optional<std::string>("object"))
    http_fail(400, "22023", "the request body must be a JSON object");
  std::map<std::string, Field> out;
  for (const Row& row : query("SELECT e.key, pg_catalog.jsonb_typeof(e.value), e.value #>> '{}' "
                              "FROM pg_catalog.jsonb_each($1::jsonb) AS e",
                              {text})) {
    bool known = false;
    for (const std::string& a : accepted) known = known || a == *row[0];
    if (!known) {
      std::string list;
      for (const std::string& a : accepted) list += (list.empty() ? "" : ", ") + a;
      http_fail(400, "22023", "unknown field \"" + *row[0] + "\"",
                "Accepted fields: " + list + ".");
    }
    out[*row[0]] = Field{*row[1], row[2]};
  }
  return out;
}

bool present(const std::map<std::string, Field>& f, const char* name) {
  auto it = f.find(name);
  return it != f.end() && it->second.type != "null";
}

std::string required_string(const std::map<std::string, Field>& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end() || it->second.type == "null")
    http_fail(400, "22023", std::string("field \"") + name + "\" is required");
  if (it->second.type != "string")
    http_fail(400, "22023", std::string("field \"") + name + "\" must be a string");
  return *it->second.text;
}

// parallelism: the number of workers, an integer from 1 to 32 (0: absent).
int parallelism_field(const std::map<std::string, Field>& f) {
  if (!present(f, "parallelism")) return 0;
  const Field& p = f.at("parallelism");
  const std::string& v = *p.text;
  if (p.type != "number" || v.empty() || v.size() > 2 ||
      v.find_first_not_of("0123456789") != std::string::npos || atoi(v.c_str()) < 1 ||
      atoi(v.c_str()) > 32)
    http_fail(400, "22023", "parallelism must be an integer from 1 to 32");
  return atoi(v.c_str());
}

// A field that must be a positive integer (of at most 15 digits).
int64 positive_integer(const std::map<std::string, Field>& f, const char* name) {
  const Field& c = f.at(name);
  const std::string& v = *c.text;
  bool ok = c.type == "number" && !v.empty() && v.size() <= 15 &&
            v.find_first_not_of("0123456789") == std::string::npos &&
            v.find_first_not_of('0') != std::string::npos;
  if (!ok)
    http_fail(400, "22023", std::string(name) + " must be a positive integer",
              "At most 15 digits.");
  return std::stoll(v);
}

// udfs (Arroyo's field): only empty; functions are created in the database with CREATE FUNCTION.
void check_udfs(const std::map<std::string, Field>& f) {
  if (!present(f, "udfs")) return;
  const Field& u = f.at("udfs");
  if (u.type != "array" || *u.text != "[]")
    http_fail(400, "0A000", "udfs are not supported",
              "Create the functions in the database (CREATE FUNCTION) and use them in the query.");
}

// --- authentication ---------------------------------------------------------------------------

struct Caller {
  Oid role;
  std::string name;
};

// The role of the request's bearer token; 401 without a valid one, 403 for a role that may
// not use the API.
Caller authenticate(const HttpRequest& request) {
  const std::string& auth = request.authorization;
  std::string token;
  if (auth.size() > 7 && strncasecmp(auth.c_str(), "bearer ", 7) == 0) {
    token = auth.substr(7);
    size_t b = token.find_first_not_of(' '), e = token.find_last_not_of(' ');
    token = b == std::string::npos ? "" : token.substr(b, e - b + 1);
  }
  for (unsigned char c : token)
    if (c <= ' ' || c > '~') http_fail(401, "28000", "invalid bearer token");
  if (token.empty())
    http_fail(401, "28000", "a bearer token is required",
              "Send \"Authorization: Bearer <token>\"; a role creates its token with "
              "SELECT stream_api_token_create('name').");
  std::vector<Row> rows = query(
      "SELECT r.oid, r.rolname, r.rolsuper, r.rolcanlogin, "
      "pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CONNECT') "
      "FROM _arroyo_stream.api_tokens t JOIN pg_catalog.pg_roles r "
      "ON r.oid = t.role AND r.rolname = t.role_name "
      "WHERE t.hash = pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8'))",
      {token});
  if (rows.empty()) http_fail(401, "28000", "invalid bearer token");
  const Row& r = rows[0];
  Caller caller{Oid(strtoul(r[0]->c_str(), nullptr, 10)), *r[1]};
  if (*r[2] == "t" && !api_allow_superuser)
    http_fail(403, "42501",
              "role \"" + caller.name +
                  "\" is a superuser, and the API does not accept "
                  "superuser tokens",
              "Use an ordinary role, or set arroyo_stream.api_allow_superuser.");
  if (*r[3] != "t")
    http_fail(403, "42501", "role \"" + caller.name + "\" is not permitted to log in");
  if (*r[4] != "t")
    http_fail(403, "42501", "permission denied for database \"" + std::string(api_database) + "\"",
              "Role \"" + caller.name + "\" does not have CONNECT privilege.");
  return caller;
}

// --- endpoints --------------------------------------------------------------------------------

struct Context {
  std::string schema;  // the extension's schema, quoted
  bool commit = true;  // false: roll the request's transaction back (validate_query)
};

std::string pipeline_json(const Context& cx, const std::string& name) {
  std::optional<std::string> json =
      query_value("SELECT pg_catalog.to_json(p)::text FROM " + cx.schema +
                      ".stream_pipelines p WHERE p.name = $1",
                  {name});
  if (!json) http_fail(404, "42704", "pipeline \"" + name + "\" does not exist");
  return *json;
}

// The pipeline's state, or 404.
std::string pipeline_state(const Context& cx, const std::string& name) {
  std::vector<Row> rows =
      query("SELECT p.state FROM " + cx.schema + ".stream_pipelines p WHERE p.name = $1", {name});
  if (rows.empty()) http_fail(404, "42704", "pipeline \"" + name + "\" does not exist");
  return *rows[0][0];
}

void call_function(const Context& cx, const char* function, const std::vector<std::string>& args) {
  std::string sql = "SELECT " + cx.schema + "." + function + "(";
  for (size_t i = 0; i < args.size(); i++) sql += (i ? ", $" : "$") + std::to_string(i + 1);
  query(sql + ")", args);
}

HttpResponse list_pipelines(const Context& cx) {
  std::optional<std::string> data =
      query_value("SELECT coalesce(pg_catalog.json_agg(p ORDER BY p.name), '[]')::text FROM " +
                      cx.schema + ".stream_pipelines p",
                  {});
  return json_response(200, "{\"data\": " + *data + ", \"has_more\": false}");
}

// POST /api/v1/pipelines: stream_create, then stream_start, in one transaction.
HttpResponse create_pipeline(const Context& cx, const HttpRequest& request) {
  auto f = body_fields(request.body, {"name", "query", "parallelism", "checkpoint_interval_micros",
                                      "udfs", "preview"});
  std::string name = required_string(f, "name");
  std::string text = required_string(f, "query");
  int parallelism = parallelism_field(f);
  check_udfs(f);
  if (present(f, "preview") && !(f["preview"].type == "boolean" && *f["preview"].text == "false"))
    http_fail(400, "22023", "a pipeline is not created as a preview",
              "POST the query to /api/v1/pipelines/preview: its rows come back as Server-Sent "
              "Events, and nothing is created.");
  if (present(f, "checkpoint_interval_micros")) {
    int64 v = positive_integer(f, "checkpoint_interval_micros");
    text = "SET checkpoint_interval = '" + std::to_string(v) + " microseconds';\n" + text;
  }
  if (parallelism > 1) text = "SET parallelism = " + std::to_string(parallelism) + ";\n" + text;
  call_function(cx, "stream_create", {name, text});
  call_function(cx, "stream_start", {name});
  return json_response(201, pipeline_json(cx, name));
}

// PATCH /api/v1/pipelines/{name}: {"stop": "none"} starts it, "checkpoint" or "immediate"
// stops it (both take a final checkpoint).
HttpResponse patch_pipeline(const Context& cx, const std::string& name,
                            const HttpRequest& request) {
  auto f = body_fields(request.body, {"stop", "parallelism", "checkpoint_interval_micros"});
  std::string state = pipeline_state(cx, name);
  // Another parallelism rescales (stream_rescale: a running pipeline stops with a final
  // checkpoint and starts again as that many workers).
  if (int parallelism = parallelism_field(f)) {
    std::optional<std::string> now = query_value("SELECT p.parallelism::text FROM " + cx.schema +
                                                     ".stream_pipelines p WHERE p.name = $1",
                                                 {name});
    if (!now || *now != std::to_string(parallelism))
      query("SELECT " + cx.schema + ".stream_rescale($1, $2::int)",
            {name, std::to_string(parallelism)});
  }
  if (present(f, "checkpoint_interval_micros"))
    http_fail(400, "0A000", "checkpoint_interval_micros cannot be changed",
              "A pipeline's settings are part of its query: drop the pipeline and create it "
              "again with the new interval.");
  if (present(f, "stop")) {
    const Field& s = f["stop"];
    std::string stop = s.type == "string" ? *s.text : "";
    if (stop == "none") {
      if (state != "running") call_function(cx, "stream_start", {name});
    } else if (stop == "checkpoint" || stop == "immediate") {
      call_function(cx, "stream_stop", {name});
    } else {
      http_fail(400, "22023", "stop must be \"none\", \"checkpoint\" or \"immediate\"");
    }
  }
  return json_response(200, pipeline_json(cx, name));
}

HttpResponse delete_pipeline(const Context& cx, const std::string& name) {
  pipeline_state(cx, name);
  call_function(cx, "stream_drop", {name});
  HttpResponse r = json_response(204, "");
  return r;
}

HttpResponse pipeline_checkpoints(const Context& cx, const std::string& name) {
  pipeline_state(cx, name);
  std::optional<std::string> data =
      query_value("SELECT coalesce(pg_catalog.json_agg(c ORDER BY c.epoch), '[]')::text FROM " +
                      cx.schema + ".stream_checkpoints c WHERE c.pipeline = $1",
                  {name});
  return json_response(200, "{\"data\": " + *data + ", \"has_more\": false}");
}

HttpResponse pipeline_errors(const Context& cx, const std::string& name) {
  pipeline_state(cx, name);
  std::optional<std::string> data = query_value(
      "SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object("
      "'level', 'error', 'state', p.state, 'message', p.last_error)) "
      "FILTER (WHERE p.last_error IS NOT NULL), '[]')::text FROM " +
          cx.schema + ".stream_pipelines p WHERE p.name = $1",
      {name});
  return json_response(200, "{\"data\": " + *data + ", \"has_more\": false}");
}

// POST /api/v1/pipelines/validate_query: plans the query as stream_create does, creating
// nothing (the transaction is rolled back either way).
HttpResponse validate_query(Context& cx, const HttpRequest& request) {
  auto f = body_fields(request.body, {"query", "udfs"});
  std::string text = required_string(f, "query");
  check_udfs(f);
  cx.commit = false;
  plan_pipeline(text);
  return json_response(200, "{\"valid\": true}");
}

// POST /api/v1/pipelines/preview: plans the query (errors answer as usual), then starts the
// preview; its rows follow as Server-Sent Events (preview_stream.hpp).
HttpResponse start_preview(Context& cx, const HttpRequest& request) {
  auto f = body_fields(request.body, {"query", "max_rows", "timeout_micros", "udfs"});
  std::string text = required_string(f, "query");
  check_udfs(f);
  int64 max_rows = present(f, "max_rows") ? positive_integer(f, "max_rows") : 100;
  int64 timeout_us =
      present(f, "timeout_micros") ? positive_integer(f, "timeout_micros") : 10 * USECS_PER_SEC;
  cx.commit = false;  // nothing to keep
  plan_preview(text);
  set_started_preview(std::make_unique<RestPreview>(text, max_rows, timeout_us));
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.streamed = true;
  r.headers.emplace_back("cache-control", "no-cache");
  return r;
}

// --- routing ----------------------------------------------------------------------------------

enum class Route { List, Create, Validate, Preview, Get, Patch, Delete, Checkpoints, Errors };

const std::string kPrefix = "/api/v1/pipelines";

// The route of a method and path (with the pipeline's name), or a 404/405 error.
Route route_of(const HttpRequest& request, std::string* name) {
  const std::string& p = request.path;
  const std::string& m = request.method;
  auto only = [&](std::initializer_list<const char*> allowed) {
    for (const char* a : allowed)
      if (m == a) return;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    HttpError e{405, "0A000", "method " + m + " is not allowed on " + p, "Allowed: " + list + "."};
    throw e;
  };
  if (p == kPrefix || p == kPrefix + "/") {
    only({"GET", "POST"});
    return m == "GET" ? Route::List : Route::Create;
  }
  if (p.compare(0, kPrefix.size() + 1, kPrefix + "/") != 0)
    http_fail(404, "42704", "no such endpoint: " + p);
  std::string rest = p.substr(kPrefix.size() + 1);
  if (rest == "validate_query" && m == "POST") return Route::Validate;
  if (rest == "preview" && m == "POST") return Route::Preview;
  size_t slash = rest.find('/');
  *name = rest.substr(0, slash);
  if (name->empty()) http_fail(404, "42704", "no such endpoint: " + p);
  if (slash == std::string::npos) {
    only({"GET", "PATCH", "DELETE"});
    return m == "GET" ? Route::Get : m == "PATCH" ? Route::Patch : Route::Delete;
  }
  std::string sub = rest.substr(slash + 1);
  if (sub != "checkpoints" && sub != "errors") http_fail(404, "42704", "no such endpoint: " + p);
  only({"GET"});
  return sub == "checkpoints" ? Route::Checkpoints : Route::Errors;
}

HttpResponse run_route(Context& cx, Route route, const std::string& name,
                       const HttpRequest& request) {
  switch (route) {
    case Route::List: return list_pipelines(cx);
    case Route::Create: return create_pipeline(cx, request);
    case Route::Validate: return validate_query(cx, request);
    case Route::Get: return json_response(200, pipeline_json(cx, name));
    case Route::Patch: return patch_pipeline(cx, name, request);
    case Route::Delete: return delete_pipeline(cx, name);
    case Route::Checkpoints: return pipeline_checkpoints(cx, name);
    case Route::Errors: return pipeline_errors(cx, name);
    case Route::Preview: return start_preview(cx, request);
  }
  http_fail(500, "XX000", "unknown route");
}

// Authenticates and runs one request in a transaction of its own, as the token's role.
HttpResponse run_in_transaction(Route route, const std::string& name, const HttpRequest& request) {
  std::string activity = request.method + " " + request.path;
  Oid saved_user;
  int saved_sec;
  pg::call([&] {
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    PushActiveSnapshot(GetTransactionSnapshot());
    pgstat_report_activity(STATE_RUNNING, activity.c_str());
    GetUserIdAndSecContext(&saved_user, &saved_sec);
  });
  HttpResponse response;
  Context cx;
  bool ok = false;
  try {
    std::optional<std::string> schema = query_value(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e "
        "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'arroyo_stream' AND pg_catalog.to_regclass('_arroyo_stream.api_tokens') "
        "IS NOT NULL",
        {});
    if (!schema)
      http_fail(503, "55000",
                "the extension arroyo_stream (0.4.0 or later) is not installed in database \"" +
                    std::string(api_database) + "\"");
    cx.schema = *schema;
    Caller caller = authenticate(request);
    pg::call(
        [&] { SetUserIdAndSecContext(caller.role, saved_sec | SECURITY_LOCAL_USERID_CHANGE); });
    response = run_route(cx, route, name, request);
    ok = cx.commit;
  } catch (const HttpError& e) {
    response = error_response(e.status, e.sqlstate, e.message, e.detail);
  } catch (const pg::Error& e) {
    response = pg_error_response(e);
  } catch (const std::exception& e) {
    response = error_response(500, "XX000", e.what());
  }
  if (ok) {
    try {
      pg::call([&] {
        SetUserIdAndSecContext(saved_user, saved_sec);
        PopActiveSnapshot();
        SPI_finish();
        CommitTransactionCommand();
      });
    } catch (const pg::Error& e) {
      response = pg_error_response(e);
      ok = false;
    }
  }
  if (!ok) pg::call([&] { AbortCurrentTransaction(); });
  pg::call([&] {
    SetUserIdAndSecContext(saved_user, saved_sec);
    pgstat_report_activity(STATE_IDLE, nullptr);
  });
  return response;
}

}  // namespace

namespace {

// The length of the valid UTF-8 sequence starting at s[i], or 0 if there is none.
size_t utf8_length(const std::string& s, size_t i) {
  unsigned char c = s[i];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = utf8_length(s, i);
    if (n == 0) {  // not UTF-8 (a path, say): U+FFFD, so that the answer stays valid JSON
      out += "\xEF\xBF\xBD";
      i++;
      continue;
    }
    if (n > 1) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    i++;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

HttpResponse handle_rest_request(const HttpRequest& request) {
  try {
    if (request.path == "/api/v1/openapi.json") {
      if (request.method != "GET")
        return error_response(405, "0A000",
                              "method " + request.method + " is not allowed on " + request.path);
      return json_response(200, rest_openapi_document());
    }
    std::string name;
    Route route = route_of(request, &name);
    return run_in_transaction(route, name, request);
  } catch (const HttpError& e) {
    return error_response(e.status, e.sqlstate, e.message, e.detail);
  } catch (const pg::Error& e) {
    return pg_error_response(e);
  } catch (const std::exception& e) {
    return error_response(500, "XX000", e.what());
  }
}

}  // namespace arroyo
