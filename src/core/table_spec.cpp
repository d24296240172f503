// Reading a foreign table's connector, options and columns from PostgreSQL's catalogs.
#include "core/connector.hpp"

#include "pg/guard.hpp"

namespace arroyo {

namespace {

// The arroyo_stream server behind a foreign table; throws if the wrapper is another one.
ForeignServer* server_of(Oid relid) {
  bool ours = true;
  ForeignServer* server = pg::call([&] {
    ForeignTable* ft = GetForeignTable(relid);
    ForeignServer* s = GetForeignServer(ft->serverid);
    ForeignDataWrapper* fdw = GetForeignDataWrapper(s->fdwid);
    ours = strcmp(fdw->fdwname, "arroyo_stream") == 0;
    return s;
  });
  if (!ours) {
    const char* name = pg::call([&] { return get_rel_name(relid); });
    pg::fail(ERRCODE_WRONG_OBJECT_TYPE, std::string("foreign table \"") + name +
                                            "\" does not belong to the arroyo_stream wrapper");
  }
  return server;
}

// The options of the user mapping for the current user (or PUBLIC) on a server, if any.
List* user_mapping_options(Oid serverid) {
  return pg::call([&] {
    List* result = NIL;
    Oid users[2] = {GetUserId(), InvalidOid};
    for (Oid user : users) {
      HeapTuple tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(user),
                                     ObjectIdGetDatum(serverid));
      if (!HeapTupleIsValid(tp)) continue;
      bool isnull;
      Datum d = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp, Anum_pg_user_mapping_umoptions, &isnull);
      if (!isnull) result = untransformRelOptions(d);
      ReleaseSysCache(tp);
      break;
    }
    return result;
  });
}

}  // namespace

const Connector& connector_of(Oid relid) {
  ForeignServer* server = server_of(relid);
  Options opts = options_from_list(server->options);
  auto name = get_option(opts, "connector");
  const Connector* c = name ? find_connector(*name) : nullptr;
  if (!c)
    pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
             std::string("server \"") + server->servername + "\" has no valid connector");
  return *c;
}

TableSpec load_table_spec(Oid relid, bool with_user_mapping) {
  ForeignServer* server = server_of(relid);
  TableSpec spec;
  spec.relid = relid;
  List* table_options = nullptr;
  TupleDesc desc = nullptr;
  pg::call([&] {
    spec.natts = 0;
    table_options = GetForeignTable(relid)->options;
    Relation rel = relation_open(relid, AccessShareLock);
    desc = CreateTupleDescCopyConstr(RelationGetDescr(rel));  // keeps attgenerated
    relation_close(rel, AccessShareLock);
  });
  spec.name = pg::call([&] {
    return (const char*)quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                   get_rel_name(relid));
  });
  spec.server_options = options_from_list(server->options);
  spec.server_options.erase("connector");
  spec.table_options = options_from_list(table_options);
  if (with_user_mapping)
    spec.user_options = options_from_list(user_mapping_options(server->serverid));
  spec.natts = desc->natts;
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (att->attisdropped) continue;
    ColumnInfo col;
    col.name = NameStr(att->attname);
    col.attnum = i + 1;
    col.type = att->atttypid;
    col.typmod = att->atttypmod;
    col.generated = att->attgenerated != '\0';
    col.options =
        options_from_list(pg::call([&] { return GetForeignColumnOptions(relid, i + 1); }));
    spec.columns.push_back(std::move(col));
  }
  return spec;
}

void validate_key_columns(const TableSpec& spec, const std::string& name) {
  std::string list = *get_option(spec.table_options, name);
  size_t start = 0;
  int count = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string column = list.substr(start, end - start);
    size_t a = column.find_first_not_of(" \t"), b = column.find_last_not_of(" \t");
    column = a == std::string::npos ? "" : column.substr(a, b - a + 1);
    if (column.empty() || !spec.column(column))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "invalid value for option \"" + name + "\": \"" + list + "\"",
               column.empty() ? "Expected a comma-separated list of column names."
                              : "The table has no column \"" + column + "\".");
    count++;
    start = end + 1;
  }
}

TableSpec relation_table_spec(Oid relid) {
  TableSpec spec;
  spec.relid = relid;
  TupleDesc desc = pg::call([&] {
    Relation rel = relation_open(relid, AccessShareLock);
    TupleDesc d = CreateTupleDescCopy(RelationGetDescr(rel));
    relation_close(rel, AccessShareLock);
    return d;
  });
  spec.name = pg::call([&] {
    return (const char*)quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                   get_rel_name(relid));
  });
  spec.natts = desc->natts;
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (att->attisdropped) continue;
    spec.columns.push_back(
        {NameStr(att->attname), i + 1, att->atttypid, att->atttypmod, false, {}});
  }
  return spec;
}

std::unique_ptr<Source> Connector::make_source(const TableSpec& spec) const {
  pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
           std::string("connector \"") + name() + "\" cannot read " + spec.name);
}

std::unique_ptr<Sink> Connector::make_sink(const TableSpec& spec) const {
  pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
           std::string("connector \"") + name() + "\" cannot write " + spec.name);
}

std::unique_ptr<LookupTable> Connector::make_lookup(const TableSpec& spec) const {
  pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
           std::string("connector \"") + name() + "\" cannot look up keys in " + spec.name);
}

}  // namespace arroyo
