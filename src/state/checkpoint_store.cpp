#include "state/checkpoint_store.hpp"

#include "catalog/pipelines.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "catalog/index.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "storage/bufmgr.h"
#include "utils/snapmgr.h"
}

namespace arroyo {

namespace {

constexpr int kNumColumns = 5;  // pipeline_id, node, part, key, value

// Runs one statement with parameters as the catalog owner; returns SPI_processed.
uint64 run(const char* sql, int nargs, Oid* types, Datum* values, int expected) {
  uint64 n = 0;
  as_catalog_owner([&] {
    n = pg::call([&] {
      int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
      if (rc != expected) elog(ERROR, "arroyo_stream checkpoint query failed (%d): %s", rc, sql);
      return SPI_processed;
    });
  });
  return n;
}

Datum bytea_datum(const std::string& s) {
  bytea* b = (bytea*)palloc(VARHDRSZ + s.size());
  SET_VARSIZE(b, VARHDRSZ + s.size());
  memcpy(VARDATA(b), s.data(), s.size());
  return PointerGetDatum(b);
}

}  // namespace

void StateWriter::put(int64 part, const std::string& key, const std::string& value,
                      ItemPointer tid) {
  store_.add(*store_.pending_, node_, part, key, &value);
  store_.pending_tids_.push_back(tid);
}

void StateWriter::insert(int64 part, const std::string& key, const std::string& value,
                         ItemPointer tid) {
  store_.add(*store_.new_entries_, node_, part, key, &value);
  store_.new_tids_.push_back(tid);
}

void StateWriter::remove(int64 part, const std::string& key) {
  store_.add(*store_.pending_, node_, part, key, nullptr);
  store_.pending_tids_.push_back(nullptr);
}

void StateWriter::remove_part(int64 part) { store_.delete_part(node_, part); }

void StateWriter::remove_node() { store_.delete_node(node_); }

CheckpointStore::CheckpointStore(int32 pipeline_id) : pipeline_id_(pipeline_id) {
  pg::call([&] {
    Oid nsp = get_namespace_oid("_arroyo_stream", false);
    relid_ = get_relname_relid("state", nsp);
    if (!OidIsValid(relid_))
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                      errmsg("arroyo_stream table _arroyo_stream.state is missing"),
                      errhint("The installed library is newer than the extension's objects in "
                              "this database: run ALTER EXTENSION arroyo_stream UPDATE.")));
    Relation rel = table_open(relid_, AccessShareLock);
    key_index_ = RelationGetPrimaryKeyIndex(rel);
    table_close(rel, AccessShareLock);
    memory_ =
        AllocSetContextCreate(TopMemoryContext, "arroyo_stream checkpoint", ALLOCSET_DEFAULT_SIZES);
  });
  pending_ = std::make_unique<Batch>(kNumColumns);
  new_entries_ = std::make_unique<Batch>(kNumColumns);
}

CheckpointStore::~CheckpointStore() {
  if (memory_) MemoryContextDelete(memory_);
}

CheckpointStore::Last CheckpointStore::last() {
  Last out;
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(pipeline_id_)};
  as_catalog_owner([&] {
    pg::call([&] {
      int rc = SPI_execute_with_args(
          "SELECT p.checkpoint_epoch, c.epoch, c.fingerprint FROM _arroyo_stream.pipelines p "
          "LEFT JOIN _arroyo_stream.checkpoints c ON c.pipeline_id = p.id "
          "AND c.epoch = p.checkpoint_epoch WHERE p.id = $1",
          1, types, values, nullptr, false, 0);
      if (rc != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "arroyo_stream pipeline %d is missing from the catalog", pipeline_id_);
      HeapTuple tup = SPI_tuptable->vals[0];
      TupleDesc desc = SPI_tuptable->tupdesc;
      bool isnull, missing;
      out.epoch = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
      (void)SPI_getbinval(tup, desc, 2, &missing);
      if (out.epoch > 0 && missing)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("checkpoint %lld of this pipeline is missing", (long long)out.epoch),
                        errdetail("The catalog records it as the last checkpoint taken, but "
                                  "_arroyo_stream.checkpoints has no row for it."),
                        errhint("The pipeline cannot resume without it. Drop it (stream_drop) and "
                                "create it again to start from scratch.")));
      if (out.epoch > 0) out.fingerprint = SPI_getvalue(tup, desc, 3);
    });
  });
  epoch_ = out.epoch;
  return out;
}

void CheckpointStore::load(const std::function<void(const StateEntry&)>& f) {
  as_catalog_owner([&] {
    Portal portal = pg::call([&] {
      Oid types[] = {INT4OID};
      Datum values[] = {Int32GetDatum(pipeline_id_)};
      SPIPlanPtr plan = SPI_prepare(
          "SELECT node, part, key, value, ctid FROM _arroyo_stream.state WHERE pipeline_id = $1 "
          "ORDER BY node, part, key",
          1, types);
      if (!plan) elog(ERROR, "arroyo_stream: could not prepare the checkpoint query");
      return SPI_cursor_open(nullptr, plan, values, nullptr, false);
    });
    StateEntry e;
    while (true) {
      uint64 n = pg::call([&] {
        SPI_cursor_fetch(portal, true, 4096);
        return SPI_processed;
      });
      if (n == 0) break;
      for (uint64 i = 0; i < n; i++) {
        pg::call([&] {
          HeapTuple tup = SPI_tuptable->vals[i];
          TupleDesc desc = SPI_tuptable->tupdesc;
          bool isnull;
          e.node = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
          e.part = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
          bytea* k = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));
          bytea* v = DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull));
          e.key.assign(VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k));
          e.value.assign(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
          e.tid = *(ItemPointer)DatumGetPointer(SPI_getbinval(tup, desc, 5, &isnull));
        });
        f(e);
      }
      pg::call([&] { SPI_freetuptable(SPI_tuptable); });
    }
    pg::call([&] { SPI_cursor_close(portal); });
  });
}

void CheckpointStore::begin(bool next_epoch) {
  if (next_epoch) {
    epoch_++;
    bytes_ = 0;
  }
  pg::call([&] {
    rel_ = table_open(relid_, RowExclusiveLock);
    index_ = index_open(key_index_, RowExclusiveLock);
    index_info_ = BuildIndexInfo(index_);
    found_ = table_slot_create(rel_, nullptr);
    bulk_ = GetBulkInsertState();
  });
}

// Replaces, adds or deletes the pending entries one by one: each is found through the primary
// key (seeing this transaction's own changes) and updated in place — a HOT update, needing no
// new index entry, when its page has room (the table's fillfactor leaves some) — inserted, or
// deleted. No row locks: only this pipeline's worker writes its entries. Runs inside pg::call.
void CheckpointStore::apply_pending() {
  IndexScanDesc scan = index_beginscan(rel_, index_, SnapshotSelf, 4, 0);
  ScanKeyData keys[4];
  bool nulls[kNumColumns] = {false, false, false, false, false};
  for (int i = 0; i < pending_->size(); i++) {
    Datum* v = pending_->values(i);
    ItemPointer hint = pending_tids_[i];
    bool found = false;
    ItemPointerData tid;
    if (hint && ItemPointerIsValid(hint) && entry_at(hint, v)) {
      found = true;
      tid = *hint;
    } else {
      ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, v[0]);
      ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, v[1]);
      ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT8EQ, v[2]);
      ScanKeyInit(&keys[3], 4, BTEqualStrategyNumber, F_BYTEAEQ, v[3]);
      index_rescan(scan, keys, 4, nullptr, 0);
      found = index_getnext_slot(scan, ForwardScanDirection, found_);
      tid = found_->tts_tid;
      ExecClearTuple(found_);
    }
    if (pending_->op(i) == RowOp::Delete) {
      if (found) simple_heap_delete(rel_, &tid);
      continue;
    }
    HeapTuple tup = heap_form_tuple(RelationGetDescr(rel_), v, nulls);
    if (found)
      simple_heap_update(rel_, &tid, tup);
    else
      simple_heap_insert(rel_, tup);
    if (!found || !HeapTupleIsHeapOnly(tup))
      index_insert(index_, v, nulls, &tup->t_self, rel_, found ? UNIQUE_CHECK_NO : UNIQUE_CHECK_YES,
                   found, index_info_);
    if (hint) *hint = tup->t_self;
    heap_freetuple(tup);
  }
  index_endscan(scan);
}

// Inserts the new entries with one multi-insert (as COPY does) and adds their index entries;
// tells each insert() where its entry went. Runs inside pg::call.
void CheckpointStore::insert_new() {
  const int n = new_entries_->size();
  while (int(insert_slots_.size()) < n) insert_slots_.push_back(table_slot_create(rel_, nullptr));
  for (int i = 0; i < n; i++) {
    TupleTableSlot* slot = insert_slots_[i];
    ExecClearTuple(slot);
    memcpy(slot->tts_values, new_entries_->values(i), sizeof(Datum) * kNumColumns);
    memcpy(slot->tts_isnull, new_entries_->nulls(i), sizeof(bool) * kNumColumns);
    ExecStoreVirtualTuple(slot);
  }
  table_multi_insert(rel_, insert_slots_.data(), n, GetCurrentCommandId(true), 0, bulk_);
  for (int i = 0; i < n; i++) {
    index_insert(index_, new_entries_->values(i), new_entries_->nulls(i),
                 &insert_slots_[i]->tts_tid, rel_, UNIQUE_CHECK_YES, false, index_info_);
    if (new_tids_[i]) *new_tids_[i] = insert_slots_[i]->tts_tid;
  }
}

// Whether the entry stored at `tid` (visible to this transaction) has the key of `key`
// (pipeline, node, part, key bytes): a remembered location is only a hint. Inside pg::call.
bool CheckpointStore::entry_at(ItemPointer tid, const Datum* key) {
  HeapTupleData tuple;
  tuple.t_self = *tid;
  Buffer buffer;
  if (!heap_fetch(rel_, SnapshotSelf, &tuple, &buffer, false)) return false;
  TupleDesc desc = RelationGetDescr(rel_);
  bool isnull, same = true;
  same = same && DatumGetInt32(heap_getattr(&tuple, 1, desc, &isnull)) == DatumGetInt32(key[0]);
  same = same && DatumGetInt32(heap_getattr(&tuple, 2, desc, &isnull)) == DatumGetInt32(key[1]);
  same = same && DatumGetInt64(heap_getattr(&tuple, 3, desc, &isnull)) == DatumGetInt64(key[2]);
  if (same) {
    struct varlena* stored =
        (struct varlena*)DatumGetPointer(heap_getattr(&tuple, 4, desc, &isnull));
    struct varlena* wanted = (struct varlena*)DatumGetPointer(key[3]);
    same = !VARATT_IS_EXTERNAL(stored) && !VARATT_IS_COMPRESSED(stored) &&
           VARSIZE_ANY_EXHDR(stored) == VARSIZE_ANY_EXHDR(wanted) &&
           memcmp(VARDATA_ANY(stored), VARDATA_ANY(wanted), VARSIZE_ANY_EXHDR(wanted)) == 0;
  }
  ReleaseBuffer(buffer);
  return same;
}

void CheckpointStore::add(Batch& batch, int32 node, int64 part, const std::string& key,
                          const std::string* value) {
  if (batch.full()) write_pending();
  int row = batch.append(0, value ? RowOp::Insert : RowOp::Delete);
  Datum* v = batch.values(row);
  bool* n = batch.nulls(row);
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(memory_);
    v[0] = Int32GetDatum(pipeline_id_);
    v[1] = Int32GetDatum(node);
    v[2] = Int64GetDatum(part);
    v[3] = bytea_datum(key);
    v[4] = value ? bytea_datum(*value) : bytea_datum(std::string());
    MemoryContextSwitchTo(old);
  });
  for (int c = 0; c < kNumColumns; c++) n[c] = false;
  bytes_ += int64(key.size() + (value ? value->size() : 0));
}

// Hands the buffered entries to the table writers: upserts and deletes first, so that a new
// entry whose key a delete just freed goes in after it.
void CheckpointStore::write_pending() {
  if (!pending_->empty()) pg::call([&] { apply_pending(); });
  if (!new_entries_->empty()) pg::call([&] { insert_new(); });
  pending_->clear();
  pending_tids_.clear();
  new_entries_->clear();
  new_tids_.clear();
  pg::call([&] { MemoryContextReset(memory_); });
}

void CheckpointStore::delete_part(int32 node, int64 part) {
  write_pending();
  Oid types[] = {INT4OID, INT4OID, INT8OID};
  Datum values[] = {Int32GetDatum(pipeline_id_), Int32GetDatum(node), Int64GetDatum(part)};
  run("DELETE FROM _arroyo_stream.state WHERE pipeline_id = $1 AND node = $2 AND part = $3", 3,
      types, values, SPI_OK_DELETE);
}

void CheckpointStore::delete_node(int32 node) {
  write_pending();
  Oid types[] = {INT4OID, INT4OID};
  Datum values[] = {Int32GetDatum(pipeline_id_), Int32GetDatum(node)};
  run("DELETE FROM _arroyo_stream.state WHERE pipeline_id = $1 AND node = $2", 2, types, values,
      SPI_OK_DELETE);
}

// Operator nodes of worker w are w * stride .. (w + 1) * stride - 1; source nodes
// -1 - w * stride down to -(w + 1) * stride.
void CheckpointStore::remove_workers(int first_worker, int last_worker, int32 node_stride) {
  if (first_worker >= last_worker) return;
  write_pending();
  int32 lo = int32(first_worker) * node_stride, hi = int32(last_worker) * node_stride;
  Oid types[] = {INT4OID, INT4OID, INT4OID};
  Datum values[] = {Int32GetDatum(pipeline_id_), Int32GetDatum(lo), Int32GetDatum(hi)};
  run("DELETE FROM _arroyo_stream.state WHERE pipeline_id = $1 AND "
      "((node >= $2 AND node < $3) OR (node <= -1 - $2 AND node >= -$3))",
      3, types, values, SPI_OK_DELETE);
}

void CheckpointStore::finish(const std::string& fingerprint, TimestampTz started) {
  finish_entries();
  record(fingerprint, started);
}

void CheckpointStore::finish_entries() {
  write_pending();
  pg::call([&] {
    for (TupleTableSlot* slot : insert_slots_) ExecDropSingleTupleTableSlot(slot);
    FreeBulkInsertState(bulk_);
    ExecDropSingleTupleTableSlot(found_);
    index_close(index_, NoLock);
    table_close(rel_, NoLock);
  });
  found_ = nullptr;
  bulk_ = nullptr;
  insert_slots_.clear();
}

void CheckpointStore::record(const std::string& fingerprint, TimestampTz started) {
  TimestampTz now = GetCurrentTimestamp();
  Oid types[] = {INT4OID, INT8OID, TIMESTAMPTZOID, FLOAT8OID, INT8OID, TEXTOID};
  Datum values[] = {Int32GetDatum(pipeline_id_),
                    Int64GetDatum(epoch_),
                    TimestampTzGetDatum(now),
                    Float8GetDatum(double(now - started) / 1000.0),
                    Int64GetDatum(bytes_),
                    pg::call([&] { return CStringGetTextDatum(fingerprint.c_str()); })};
  // Planned once per worker: this runs at every checkpoint.
  as_catalog_owner([&] {
    pg::call([&] {
      if (!record_plan_) {
        SPIPlanPtr plan = SPI_prepare(
            "WITH c AS (INSERT INTO _arroyo_stream.checkpoints "
            "(pipeline_id, epoch, finished_at, duration_ms, bytes, fingerprint) "
            "VALUES ($1, $2, $3, $4, $5, $6)), "
            "old AS (DELETE FROM _arroyo_stream.checkpoints "
            "WHERE pipeline_id = $1 AND epoch <= $2 - 100) "
            "UPDATE _arroyo_stream.pipelines SET checkpoint_epoch = $2, unprogressed_starts = 0 "
            "WHERE id = $1",
            6, types);
        if (!plan || SPI_keepplan(plan) != 0)
          elog(ERROR, "arroyo_stream: could not prepare the checkpoint statement");
        record_plan_ = plan;
      }
      int rc = SPI_execute_plan((SPIPlanPtr)record_plan_, values, nullptr, false, 0);
      if (rc != SPI_OK_UPDATE || SPI_processed != 1)
        elog(ERROR, "arroyo_stream: could not record checkpoint %lld", (long long)epoch_);
    });
  });
}

std::optional<std::string> CheckpointStore::read_entry(int32 pipeline_id, int32 node) {
  std::optional<std::string> out;
  as_catalog_owner([&] {
    pg::call([&] {
      Oid types[] = {INT4OID, INT4OID};
      Datum values[] = {Int32GetDatum(pipeline_id), Int32GetDatum(node)};
      int rc = SPI_execute_with_args(
          "SELECT value FROM _arroyo_stream.state WHERE pipeline_id = $1 AND node = $2 "
          "AND part = 0 AND key = ''::bytea",
          2, types, values, nullptr, true, 0);
      if (rc != SPI_OK_SELECT) elog(ERROR, "arroyo_stream: could not read the state table");
      if (SPI_processed == 1) {
        bool isnull;
        bytea* v = DatumGetByteaPP(
            SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        out.emplace(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
      }
    });
  });
  return out;
}

void CheckpointStore::remove_all(int32 pipeline_id) {
  Oid types[] = {INT4OID};
  Datum values[] = {Int32GetDatum(pipeline_id)};
  run("WITH s AS (DELETE FROM _arroyo_stream.state WHERE pipeline_id = $1) "
      "DELETE FROM _arroyo_stream.checkpoints WHERE pipeline_id = $1",
      1, types, values, SPI_OK_DELETE);
}

}  // namespace arroyo
