// Our logical decoding output plugin (the library is the plugin: slots are created with plugin
// 'arroyo_stream'). It does not serialize anything: the pipeline's worker drives decoding in its
// own process (decoding_session.hpp), and the callbacks copy each committed change of a table
// the pipeline reads, as rows in the table's layout, into that table's ChangeBuffer. An UPDATE
// becomes a delete of the old row and an insert of the new one; columns left unchanged and TOASTed
// in the new row are taken from the old one (REPLICA IDENTITY FULL logs it complete).
#include "connectors/cdc/change_buffer.hpp"

extern "C" {
#include "access/detoast.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "utils/memutils.h"
}

namespace arroyo {

ChangeBuffer* change_buffer_create(MemoryContext parent, Oid relid, int natts) {
  ChangeBuffer* buf = (ChangeBuffer*)MemoryContextAllocZero(parent, sizeof(ChangeBuffer));
  buf->relid = relid;
  buf->natts = natts;
  buf->memory = AllocSetContextCreate(parent, "arroyo_stream cdc changes", ALLOCSET_DEFAULT_SIZES);
  return buf;
}

void change_buffer_reset(ChangeBuffer* buf) {
  MemoryContextReset(buf->memory);
  buf->count = buf->capacity = 0;
  buf->values = nullptr;
  buf->nulls = nullptr;
  buf->ops = nullptr;
  buf->times = nullptr;
  buf->ends = nullptr;
  buf->unchanged = nullptr;
  buf->drained = 0;
}

ChangeBuffer* change_router_find(ChangeRouter* router, Oid relid) {
  for (int i = 0; router && i < router->count; i++)
    if (router->buffers[i]->relid == relid) return router->buffers[i];
  return nullptr;
}

namespace {

// Counts the next row of the transaction being delivered; true if a restored checkpoint says
// it was polled already.
bool already_polled(ChangeBuffer* buf) {
  int64 index = buf->txn_rows++;
  if (buf->txn_end <= buf->skip_through) return true;
  return buf->txn_end == buf->skip_partial_end && index < buf->skip_rows;
}

// Appends one row to the buffer, copying (and detoasting) its values. `fallback` supplies
// columns that are unchanged TOAST pointers in `tuple`.
void append_row(ChangeBuffer* buf, TupleDesc desc, HeapTuple tuple, HeapTuple fallback, int8 op,
                TimestampTz time) {
  if (already_polled(buf)) return;
  MemoryContext old = MemoryContextSwitchTo(buf->memory);
  if (buf->count == buf->capacity) {
    int cap = buf->capacity ? buf->capacity * 2 : 256;
    size_t n = size_t(cap) * buf->natts;
    if (buf->capacity == 0) {
      buf->values = (Datum*)palloc(sizeof(Datum) * n);
      buf->nulls = (bool*)palloc(sizeof(bool) * n);
      buf->ops = (int8*)palloc(sizeof(int8) * cap);
      buf->times = (TimestampTz*)palloc(sizeof(TimestampTz) * cap);
      buf->ends = (XLogRecPtr*)palloc(sizeof(XLogRecPtr) * cap);
      if (buf->by_key) buf->unchanged = (bool*)palloc(sizeof(bool) * n);
    } else {
      buf->values = (Datum*)repalloc_huge(buf->values, sizeof(Datum) * n);
      buf->nulls = (bool*)repalloc_huge(buf->nulls, sizeof(bool) * n);
      buf->ops = (int8*)repalloc(buf->ops, sizeof(int8) * cap);
      buf->times = (TimestampTz*)repalloc(buf->times, sizeof(TimestampTz) * cap);
      buf->ends = (XLogRecPtr*)repalloc(buf->ends, sizeof(XLogRecPtr) * cap);
      if (buf->by_key) buf->unchanged = (bool*)repalloc_huge(buf->unchanged, sizeof(bool) * n);
    }
    buf->capacity = cap;
  }
  int row = buf->count++;
  Datum* values = buf->values + size_t(row) * buf->natts;
  bool* nulls = buf->nulls + size_t(row) * buf->natts;
  heap_deform_tuple(tuple, desc, values, nulls);
  bool* unchanged = buf->by_key ? buf->unchanged + size_t(row) * buf->natts : nullptr;
  if (unchanged) memset(unchanged, 0, sizeof(bool) * buf->natts);
  Datum* fb_values = nullptr;
  bool* fb_nulls = nullptr;
  for (int i = 0; i < buf->natts && i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    if (att->attisdropped) {
      nulls[i] = true;
      continue;
    }
    if (nulls[i] || att->attlen != -1) {
      if (!nulls[i]) values[i] = datumCopy(values[i], att->attbyval, att->attlen);
      continue;
    }
    struct varlena* v = (struct varlena*)DatumGetPointer(values[i]);
    if (VARATT_IS_EXTERNAL_ONDISK(v) && !fallback && unchanged) {
      // Unchanged TOASTed column of an UPDATE: the source takes it from the old row it keeps
      // (a row that only gives a key needs none).
      if (op > 0) {
        unchanged[i] = true;
        op = 2;
      }
      nulls[i] = true;
      continue;
    }
    if (VARATT_IS_EXTERNAL_ONDISK(v)) {
      // Unchanged TOASTed column of an UPDATE: its value is the old row's.
      if (!fallback)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("change data capture got an unchanged TOAST value without the "
                               "old row"),
                        errhint("Set REPLICA IDENTITY FULL on the table.")));
      if (!fb_values) {
        fb_values = (Datum*)palloc(sizeof(Datum) * desc->natts);
        fb_nulls = (bool*)palloc(sizeof(bool) * desc->natts);
        heap_deform_tuple(fallback, desc, fb_values, fb_nulls);
      }
      nulls[i] = fb_nulls[i];
      v = nulls[i] ? nullptr : (struct varlena*)DatumGetPointer(fb_values[i]);
    }
    if (!v) continue;
    // A plain in-line value comes back as is, pointing into the decoded tuple, which the
    // reorder buffer frees after this callback: copy it into the buffer's memory.
    struct varlena* flat = detoast_attr(v);
    if (flat == v)
      flat = (struct varlena*)DatumGetPointer(datumCopy(PointerGetDatum(v), false, -1));
    values[i] = PointerGetDatum(flat);
  }
  for (int i = desc->natts; i < buf->natts; i++) nulls[i] = true;
  buf->ops[row] = op;
  buf->times[row] = time;
  buf->ends[row] = buf->txn_end;
  MemoryContextSwitchTo(old);
}

void on_startup(LogicalDecodingContext*, OutputPluginOptions* options, bool) {
  options->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
  options->receive_rewrites = false;
}

// A transaction starts being delivered (its commit is decoded: its end LSN is known).
void on_begin(LogicalDecodingContext* ctx, ReorderBufferTXN* txn) {
  ChangeRouter* router = (ChangeRouter*)ctx->output_writer_private;
  for (int i = 0; router && i < router->count; i++) {
    router->buffers[i]->txn_end = txn->end_lsn;
    router->buffers[i]->txn_rows = 0;
  }
}

void on_change(LogicalDecodingContext* ctx, ReorderBufferTXN* txn, Relation rel,
               ReorderBufferChange* change) {
  ChangeBuffer* buf =
      change_router_find((ChangeRouter*)ctx->output_writer_private, RelationGetRelid(rel));
  if (!buf) return;
  TupleDesc desc = RelationGetDescr(rel);
  TimestampTz time = txn->xact_time.commit_time;
  // Read with whole old rows, the table must keep logging them (the catalog as of this change).
  if (!buf->by_key && change->action != REORDER_BUFFER_CHANGE_INSERT &&
      rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("the replica identity of table \"%s\" is no longer FULL",
                           RelationGetRelationName(rel)),
                    errdetail("The pipeline reads it with whole old rows and keeps no copy of "
                              "its rows by key."),
                    errhint("Set REPLICA IDENTITY FULL again, or drop the pipeline "
                            "(stream_drop) and create it again.")));
  HeapTuple oldtup = change->data.tp.oldtuple ? &change->data.tp.oldtuple->tuple : nullptr;
  HeapTuple newtup = change->data.tp.newtuple ? &change->data.tp.newtuple->tuple : nullptr;
  switch (change->action) {
    case REORDER_BUFFER_CHANGE_INSERT:
      if (newtup) append_row(buf, desc, newtup, nullptr, 1, time);
      break;
    case REORDER_BUFFER_CHANGE_UPDATE:
      if (buf->by_key) {
        // The old row's key (logged when it changed; else it is the new row's).
        append_row(buf, desc, oldtup ? oldtup : newtup, nullptr, -2, time);
        append_row(buf, desc, newtup, nullptr, 1, time);
        break;
      }
      if (!oldtup)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("an UPDATE of \"%s\" came without its old row",
                               RelationGetRelationName(rel)),
                        errhint("Set REPLICA IDENTITY FULL on the table.")));
      append_row(buf, desc, oldtup, nullptr, -1, time);
      append_row(buf, desc, newtup, oldtup, 1, time);
      break;
    case REORDER_BUFFER_CHANGE_DELETE:
      if (buf->by_key && oldtup) {
        append_row(buf, desc, oldtup, nullptr, -2, time);
        break;
      }
      if (!oldtup)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("a DELETE from \"%s\" came without its old row",
                               RelationGetRelationName(rel)),
                        errhint("Set REPLICA IDENTITY FULL on the table.")));
      append_row(buf, desc, oldtup, nullptr, -1, time);
      break;
    default: break;
  }
}

void on_truncate(LogicalDecodingContext* ctx, ReorderBufferTXN*, int nrelations,
                 Relation relations[], ReorderBufferChange*) {
  ChangeRouter* router = (ChangeRouter*)ctx->output_writer_private;
  for (int i = 0; router && i < nrelations; i++) {
    ChangeBuffer* buf = change_router_find(router, RelationGetRelid(relations[i]));
    if (buf) buf->truncated = router->truncated = true;
  }
}

void on_commit(LogicalDecodingContext* ctx, ReorderBufferTXN* txn, XLogRecPtr) {
  ChangeRouter* router = (ChangeRouter*)ctx->output_writer_private;
  for (int i = 0; router && i < router->count; i++)
    router->buffers[i]->last_commit_end = txn->end_lsn;
}

}  // namespace

}  // namespace arroyo

extern "C" {

PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks* cb);

void _PG_output_plugin_init(OutputPluginCallbacks* cb) {
  cb->startup_cb = arroyo::on_startup;
  cb->begin_cb = arroyo::on_begin;
  cb->change_cb = arroyo::on_change;
  cb->truncate_cb = arroyo::on_truncate;
  cb->commit_cb = arroyo::on_commit;
}

}  // extern "C"
