// The REST API's bearer tokens: stream_api_token_create(name) makes a random token for the
// current role and stores only its SHA-256 hash; stream_api_token_revoke(name [, role]) drops
// one. The table _arroyo_stream.api_tokens is written as its owner (catalog/pipelines.hpp).
#include "catalog/pipelines.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {

constexpr int kTokenBytes = 32;

std::string text_arg(FunctionCallInfo fcinfo, int n) {
  return pg::call([&] { return (const char*)text_to_cstring(PG_GETARG_TEXT_PP(n)); });
}

Datum text_datum(const std::string& s) {
  return pg::call([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), s.size())); });
}

// Runs a statement on the token table with (role oid, role name or token, name) parameters.
uint64 run(const char* sql, int nargs, Oid* types, Datum* values, int expected) {
  return pg::call([&] {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc != expected) elog(ERROR, "arroyo_stream token query failed (%d): %s", rc, sql);
    return SPI_processed;
  });
}

// A role's name (the role must exist).
std::string role_name(Oid role) {
  return pg::call([&] { return (const char*)GetUserNameFromId(role, false); });
}

}  // namespace

}  // namespace arroyo

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_api_token_create);
PG_FUNCTION_INFO_V1(arroyo_stream_api_token_revoke);

// stream_api_token_create(name): a new token for the current role, shown once.
Datum arroyo_stream_api_token_create(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    std::string name = text_arg(fcinfo, 0);
    if (name.empty()) pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "token name cannot be empty");
    Oid role = pg::call([&] { return GetUserId(); });
    std::string rolname = role_name(role);
    unsigned char random[kTokenBytes];
    if (!pg::call([&] { return pg_strong_random(random, sizeof random); }))
      pg::fail(ERRCODE_INTERNAL_ERROR, "could not generate random bytes for a token");
    std::string token = "arroyo_";
    static const char kHex[] = "0123456789abcdef";
    for (unsigned char b : random) {
      token += kHex[b >> 4];
      token += kHex[b & 15];
    }
    as_catalog_owner([&] {
      Oid types[] = {OIDOID, TEXTOID, TEXTOID, TEXTOID};
      Datum values[] = {ObjectIdGetDatum(role), text_datum(rolname), text_datum(name),
                        text_datum(token)};
      if (run("SELECT 1 FROM _arroyo_stream.api_tokens WHERE role = $1 AND name = $3", 4, types,
              values, SPI_OK_SELECT) > 0)
        pg::fail(ERRCODE_DUPLICATE_OBJECT,
                 "API token \"" + name + "\" of role \"" + rolname + "\" already exists", {},
                 "Revoke it first: SELECT stream_api_token_revoke('" + name + "').");
      run("INSERT INTO _arroyo_stream.api_tokens (role, role_name, name, hash) "
          "VALUES ($1, $2::name, $3, pg_catalog.sha256(pg_catalog.convert_to($4, 'UTF8')))",
          4, types, values, SPI_OK_INSERT);
    });
    return text_datum(token);
  });
}

// stream_api_token_revoke(name, role DEFAULT NULL): drops a token of the current role, or of
// `role` (which the current user must have the privileges of).
Datum arroyo_stream_api_token_revoke(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    if (PG_ARGISNULL(0)) return (Datum)0;
    std::string name = text_arg(fcinfo, 0);
    Oid current = pg::call([&] { return GetUserId(); });
    Oid role = PG_ARGISNULL(1) ? current : PG_GETARG_OID(1);
    std::string rolname = role_name(role);
    if (!pg::call([&] { return has_privs_of_role(current, role); }))
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
               "must have the privileges of role \"" + rolname + "\" to revoke its tokens");
    uint64 deleted = 0;
    as_catalog_owner([&] {
      Oid types[] = {OIDOID, TEXTOID};
      Datum values[] = {ObjectIdGetDatum(role), text_datum(name)};
      deleted = run("DELETE FROM _arroyo_stream.api_tokens WHERE role = $1 AND name = $2", 2, types,
                    values, SPI_OK_DELETE);
    });
    if (deleted == 0)
      pg::fail(ERRCODE_UNDEFINED_OBJECT,
               "API token \"" + name + "\" of role \"" + rolname + "\" does not exist");
    return (Datum)0;
  });
}

}  // extern "C"
