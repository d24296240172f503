// Where the output plugin puts decoded changes for the CDC source. Filled by the plugin's
// callbacks (plain C, inside PostgreSQL's decoding machinery: palloc only, no C++ throws) and
// drained by the source into batches. One per table a pipeline reads; the pipeline's one
// decoding context routes each change to its table's buffer (ChangeRouter, the context's
// output_writer_private).
//
// Positions: decoding hands over whole transactions, in commit order, each with its commit's
// end LSN; a row is identified by that LSN and its index among the transaction's rows of our
// table (an UPDATE gives two rows). After a restart the plugin skips what the source's
// checkpoint says was already polled: every transaction ending at or before skip_through, and
// the first skip_rows rows of the transaction ending at skip_partial_end.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/xlogdefs.h"
}

namespace arroyo {

struct ChangeBuffer {
  Oid relid;             // the table whose changes go here
  int natts;             // its row width
  MemoryContext memory;  // holds the rows below; reset once they are drained
  int count, capacity;
  Datum* values;  // count * natts
  bool* nulls;
  // +1 insert, -1 delete; by key (see below): -2 delete of the row with this row's key,
  // +2 insert whose `unchanged` columns are those of the row the preceding -2 deleted.
  int8* ops;
  bool* unchanged;             // count * natts, by key only: unchanged TOASTed values left out
  TimestampTz* times;          // commit time of the row's transaction
  XLogRecPtr* ends;            // commit end LSN of the row's transaction
  XLogRecPtr last_commit_end;  // end LSN of the last transaction fully delivered
  bool truncated;              // the table was truncated (the source then fails)
  // The table's replica identity is a key: old rows are identified by key, and the source
  // takes them from its mirror of the table (row_mirror.hpp).
  bool by_key;

  // The transaction being delivered, and how many of its rows (of our table) it has had.
  XLogRecPtr txn_end;
  int64 txn_rows;
  // What a restored checkpoint says was polled already (see above).
  XLogRecPtr skip_through, skip_partial_end;
  int64 skip_rows;

  // Kept by the source: whether by_key and the skip fields are set (decoding waits for every
  // table's buffer to be ready), how many rows it has drained, and the position its last
  // committed checkpoint covers (the slot is told the minimum over the tables).
  bool ready;
  int drained;
  XLogRecPtr confirmable;
};

// The buffers of the tables one decoding context feeds.
struct ChangeRouter {
  int count;
  ChangeBuffer** buffers;
  bool truncated;  // some buffer's table was truncated: decoding stops
};

// Creates an empty buffer in `parent` for a table of `natts` columns.
ChangeBuffer* change_buffer_create(MemoryContext parent, Oid relid, int natts);
// Forgets the buffered rows (after the source copied them into batches).
void change_buffer_reset(ChangeBuffer* buf);
// The buffer of table `relid`, or null when the pipeline does not read that table.
ChangeBuffer* change_router_find(ChangeRouter* router, Oid relid);

}  // namespace arroyo
