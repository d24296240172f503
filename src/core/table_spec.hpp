// What a connector or a format learns about a table: its columns and options.
#pragma once

#include "core/options.hpp"

#include <string>
#include <vector>

namespace arroyo {

// One column of a foreign table, as a connector sees it.
struct ColumnInfo {
  std::string name;
  int attnum;  // 1-based position in the table's row (dropped columns leave gaps)
  Oid type;
  int32 typmod;
  bool generated;   // GENERATED ALWAYS AS (...) STORED: computed by the engine, not the connector
  Options options;  // column options, e.g. (metadata 'partition')
};

// Everything a connector learns about one foreign table.
struct TableSpec {
  Oid relid = InvalidOid;
  std::string name;        // qualified, quoted as needed, for messages
  Options server_options;  // without "connector"
  Options table_options;
  Options user_options;  // the user mapping's options (secrets live here)
  std::vector<ColumnInfo> columns;
  int natts = 0;  // width of the row, including dropped columns

  const ColumnInfo* column(const std::string& name) const {
    for (const auto& c : columns)
      if (c.name == name) return &c;
    return nullptr;
  }
};

// Lookup: read only by key, in a lookup join's subquery (Connector::make_lookup).
enum class TableRole { Source, Sink, Lookup };

// Reads a foreign table's spec (options of table, server and user mapping; columns) from the
// catalogs. Throws if it is not a foreign table of the arroyo_stream wrapper.
TableSpec load_table_spec(Oid relid, bool with_user_mapping);
// A regular table's spec (columns, no options), for reading it by change data capture.
TableSpec relation_table_spec(Oid relid);

}  // namespace arroyo
