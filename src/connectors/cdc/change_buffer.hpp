// Where the output plugin puts decoded changes for the CDC source. Filled by the plugin's
// callbacks (plain C, inside PostgreSQL's decoding machinery: palloc only, no C++ throws) and
// drained by the source into batches. One per decoding context (output_writer_private).
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/xlogdefs.h"
}

namespace arroyo {

struct ChangeBuffer {
  Oid relid;            // the table whose changes we want; others are skipped
  int natts;            // its row width
  MemoryContext memory; // holds the rows below; reset once they are drained
  int count, capacity;
  Datum* values;        // count * natts
  bool* nulls;
  int8* ops;            // +1 insert, -1 delete
  TimestampTz* times;   // commit time of the row's transaction
  XLogRecPtr last_commit_end;  // end LSN of the last transaction fully delivered
  bool truncated;       // the table was truncated (the source then fails)
};

// Creates an empty buffer in `parent` for a table of `natts` columns.
ChangeBuffer* change_buffer_create(MemoryContext parent, Oid relid, int natts);
// Forgets the buffered rows (after the source copied them into batches).
void change_buffer_reset(ChangeBuffer* buf);

}  // namespace arroyo
