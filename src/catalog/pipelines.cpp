#include "catalog/pipelines.hpp"

#include "pg/guard.hpp"

namespace arroyo {

namespace {

constexpr int kNumColumns = 8;

// The columns read into a PipelineRow (an extension script before 0.3.0 has no definition).
const char* columns() {
  return catalog_has_definitions()
             ? "id, name, query, owner::oid, state, coalesce(last_error, ''), search_path, "
               "coalesce(definition, '')"
             : "id, name, query, owner::oid, state, coalesce(last_error, ''), search_path, ''";
}

}  // namespace

void as_catalog_owner(const std::function<void()>& body) {
  Oid saved_user;
  int saved_sec;
  pg::call([&] {
    GetUserIdAndSecContext(&saved_user, &saved_sec);
    Oid nsp = get_namespace_oid("_arroyo_stream", false);
    Oid rel = get_relname_relid("pipelines", nsp);
    if (!OidIsValid(rel))
      ereport(ERROR, (errmsg("arroyo_stream catalog table _arroyo_stream.pipelines is missing")));
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
    Oid owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  });
  try {
    body();
  } catch (...) {
    pg::call([&] {
      SPI_finish();
      SetUserIdAndSecContext(saved_user, saved_sec);
    });
    throw;
  }
  pg::call([&] {
    SPI_finish();
    SetUserIdAndSecContext(saved_user, saved_sec);
  });
}

bool catalog_has_definitions() {
  return pg::call([&] {
    Oid nsp = get_namespace_oid("_arroyo_stream", true);
    Oid rel = OidIsValid(nsp) ? get_relname_relid("pipelines", nsp) : InvalidOid;
    return OidIsValid(rel) && get_attnum(rel, "definition") != InvalidAttrNumber;
  });
}

namespace {

// Executes one statement with text/int parameters; returns the processed row count.
uint64 exec(const char* sql, int nargs, Oid* types, Datum* values, int expected) {
  return pg::call([&] {
    int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
    if (rc != expected) elog(ERROR, "arroyo_stream catalog query failed (%d): %s", rc, sql);
    return SPI_processed;
  });
}

// Copies SPI's current result rows into PipelineRows.
std::vector<PipelineRow> fetch_rows() {
  std::vector<PipelineRow> out;
  for (uint64 i = 0; i < SPI_processed; i++) {
    char* cols[kNumColumns];
    pg::call([&] {
      for (int c = 0; c < kNumColumns; c++)
        cols[c] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1);
    });
    PipelineRow row;
    row.id = atoi(cols[0]);
    row.name = cols[1];
    row.query = cols[2];
    row.owner = Oid(strtoul(cols[3], nullptr, 10));
    row.state = cols[4];
    row.last_error = cols[5];
    row.search_path = cols[6];
    row.definition = cols[7];
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<PipelineRow> select_where(const char* where, int nargs, Oid* types, Datum* values) {
  std::vector<PipelineRow> rows;
  as_catalog_owner([&] {
    std::string sql = std::string("SELECT ") + columns() + " FROM _arroyo_stream.pipelines " +
                      where + " ORDER BY id";
    exec(sql.c_str(), nargs, types, values, SPI_OK_SELECT);
    rows = fetch_rows();
  });
  return rows;
}

Datum text_datum(const std::string& s) {
  return pg::call([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), s.size())); });
}

}  // namespace

std::optional<PipelineRow> catalog_find(const std::string& name) {
  Oid types[] = {TEXTOID};
  Datum values[] = {text_datum(name)};
  auto rows = select_where("WHERE name = $1", 1, types, values);
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

std::optional<PipelineRow> catalog_get(int32 id) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(id)};
  auto rows = select_where("WHERE id = $1", 1, types, values);
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

std::vector<PipelineRow> catalog_running() {
  return select_where("WHERE state = 'running'", 0, nullptr, nullptr);
}

int32 catalog_insert(const std::string& name, const std::string& query, Oid owner,
                     const std::string& search_path) {
  int32 id = 0;
  Oid types[] = {TEXTOID, TEXTOID, OIDOID, TEXTOID};
  Datum values[] = {text_datum(name), text_datum(query), ObjectIdGetDatum(owner),
                    text_datum(search_path)};
  as_catalog_owner([&] {
    exec(
        "INSERT INTO _arroyo_stream.pipelines (name, query, owner, search_path) "
        "VALUES ($1, $2, $3::regrole, $4) RETURNING id",
        4, types, values, SPI_OK_INSERT_RETURNING);
    id = pg::call([&] {
      bool isnull;
      return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    });
  });
  return id;
}

void catalog_delete(int32 id) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(id)};
  as_catalog_owner([&] {
    exec("DELETE FROM _arroyo_stream.pipelines WHERE id = $1", 1, types, values, SPI_OK_DELETE);
  });
}

void catalog_set_definition(int32 id, const std::string& definition) {
  Oid types[] = {INT4OID, TEXTOID};
  Datum values[] = {Int32GetDatum(id), text_datum(definition)};
  as_catalog_owner([&] {
    exec("UPDATE _arroyo_stream.pipelines SET definition = $2 WHERE id = $1", 2, types, values,
         SPI_OK_UPDATE);
  });
}

void catalog_set_query(int32 id, const std::string& query) {
  Oid types[] = {INT4OID, TEXTOID};
  Datum values[] = {Int32GetDatum(id), text_datum(query)};
  as_catalog_owner([&] {
    exec("UPDATE _arroyo_stream.pipelines SET query = $2 WHERE id = $1", 2, types, values,
         SPI_OK_UPDATE);
  });
}

void catalog_mark_started(int32 id) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(id)};
  as_catalog_owner([&] {
    exec(
        "UPDATE _arroyo_stream.pipelines SET state = 'running', started_at = now(), "
        "finished_at = NULL, last_error = NULL, rows_in = 0, rows_out = 0, bad_rows = 0, "
        "late_rows = 0, state_bytes = 0, unprogressed_starts = 0 WHERE id = $1",
        1, types, values, SPI_OK_UPDATE);
  });
}

int catalog_count_start(int32 id) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(id)};
  int starts = 0;
  as_catalog_owner([&] {
    exec(
        "UPDATE _arroyo_stream.pipelines SET unprogressed_starts = unprogressed_starts + 1 "
        "WHERE id = $1 RETURNING unprogressed_starts",
        1, types, values, SPI_OK_UPDATE_RETURNING);
    starts = pg::call([&] {
      bool isnull;
      return SPI_processed == 1 ? DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
                                                              SPI_tuptable->tupdesc, 1, &isnull))
                                : 0;
    });
  });
  return starts;
}

void catalog_clear_starts(int32 id) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(id)};
  as_catalog_owner([&] {
    exec("UPDATE _arroyo_stream.pipelines SET unprogressed_starts = 0 WHERE id = $1", 1, types,
         values, SPI_OK_UPDATE);
  });
}

void catalog_mark_ended(int32 id, const std::string& state, const RunStats& stats,
                        const std::string& error, bool force) {
  Oid types[] = {INT4OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID};
  Datum values[] = {Int32GetDatum(id),
                    text_datum(state),
                    Int64GetDatum(stats.rows_in),
                    Int64GetDatum(stats.rows_out),
                    Int64GetDatum(stats.bad_rows),
                    Int64GetDatum(stats.late_rows),
                    text_datum(error),
                    Int64GetDatum(stats.state_bytes)};
  std::string sql =
      "UPDATE _arroyo_stream.pipelines SET state = $2, finished_at = now(), rows_in = $3, "
      "rows_out = $4, bad_rows = $5, late_rows = $6, last_error = nullif($7, ''), "
      "state_bytes = $8 WHERE id = $1";
  if (!force) sql += " AND state = 'running'";
  as_catalog_owner([&] { exec(sql.c_str(), 8, types, values, SPI_OK_UPDATE); });
}

}  // namespace arroyo
