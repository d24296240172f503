#include "operators/table_sink.hpp"

#include "operators/key_lookup.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "commands/trigger.h"
#include "executor/nodeModifyTable.h"
}

#include <cstring>

namespace arroyo {

TableSinkOperator::TableSinkOperator(const SinkTarget& target, EngineStats& stats,
                                     const std::string& pipeline)
    : relid_(target.relid),
      pipeline_(pipeline),
      updating_(target.updating),
      foreign_(target.foreign),
      key_columns_(target.key_columns),
      key_index_(target.key_index),
      whole_rows_(target.whole_rows),
      stats_(stats) {}

// Sets up an executor state for writing into the target, as logical replication's apply does.
void TableSinkOperator::begin_transaction() {
  for (bool& open : statement_open_) open = false;
  pg::call([&] {
    // Dropped meanwhile (its pipeline is being dropped with it, or it was created before
    // pipelines depended on their targets): say which table, not just its OID.
    Relation rel = try_table_open(relid_, RowExclusiveLock);
    if (!rel)
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                      errmsg("the target table of pipeline \"%s\" (OID %u) was dropped",
                             pipeline_.c_str(), relid_),
                      errhint("Drop the pipeline (stream_drop), or create it again on a new "
                              "target.")));
    estate_ = CreateExecutorState();
    RangeTblEntry* rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid_;
    rte->relkind = rel->rd_rel->relkind;
    rte->rellockmode = RowExclusiveLock;
    ExecInitRangeTable(estate_, list_make1(rte));
    result_rel_ = makeNode(ResultRelInfo);
    InitResultRelInfo(result_rel_, rel, 1, nullptr, 0);
    estate_->es_output_cid = GetCurrentCommandId(true);
    ExecOpenIndices(result_rel_, false);
    slot_ = ExecInitExtraTupleSlot(estate_, RelationGetDescr(rel), &TTSOpsVirtual);
    if (updating_) {
      existing_ = table_slot_create(rel, &estate_->es_tupleTable);
      epq_ = (EPQState*)palloc0(sizeof(EPQState));
      EvalPlanQualInit(epq_, estate_, nullptr, NIL, -1);
    }
    TriggerDesc* triggers = result_rel_->ri_TrigDesc;
    bool partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
    batched_ =
        !updating_ && !foreign_ && !partitioned &&
        !(triggers && (triggers->trig_insert_before_row || triggers->trig_insert_instead_row));
    if (foreign_ || partitioned) {
      // As COPY FROM into a foreign or partitioned table sets it up.
      mtstate_ = makeNode(ModifyTableState);
      mtstate_->ps.plan = nullptr;
      mtstate_->ps.state = estate_;
      mtstate_->operation = CMD_INSERT;
      mtstate_->mt_nrels = 1;
      mtstate_->resultRelInfo = result_rel_;
      mtstate_->rootResultRelInfo = result_rel_;
      if (foreign_) result_rel_->ri_FdwRoutine->BeginForeignInsert(mtstate_, result_rel_);
      if (partitioned) routing_ = ExecSetupPartitionTupleRouting(estate_, rel);
    }
    if (batched_) bulk_ = GetBulkInsertState();
    batched_upserts_ = false;
    if (updating_ && !foreign_ && !partitioned && !whole_rows_ && !key_columns_.empty() &&
        OidIsValid(key_index_) && !triggers) {
      lookup_.open(rel, key_index_);
      batched_upserts_ = lookup_.bitwise_keys();
    }
    AfterTriggerBeginQuery();
  });
  slots_.clear();
}

// Checks every row of the batch as ExecSimpleRelationInsert would (generated columns,
// constraints, partition constraint), inserts them with one table_multi_insert, then adds their
// index entries and queues their AFTER ROW triggers. Runs inside pg::call.
void TableSinkOperator::insert_batched(const Batch& rows, const int* which, int n) {
  Relation rel = result_rel_->ri_RelationDesc;
  TupleConstr* constr = rel->rd_att->constr;
  const int ncols = rows.ncols();
  open_statement(Insert);
  while (int(slots_.size()) < n)
    slots_.push_back(
        ExecInitExtraTupleSlot(estate_, RelationGetDescr(rel), table_slot_callbacks(rel)));
  for (int i = 0; i < n; i++) {
    TupleTableSlot* slot = slots_[i];
    const int row = which ? which[i] : i;
    ExecClearTuple(slot);
    memcpy(slot->tts_values, rows.values(row), sizeof(Datum) * ncols);
    memcpy(slot->tts_isnull, rows.nulls(row), sizeof(bool) * ncols);
    ExecStoreVirtualTuple(slot);
    if (constr && constr->has_generated_stored)
      ExecComputeStoredGenerated(result_rel_, estate_, slot, CMD_INSERT);
    if (constr) ExecConstraints(result_rel_, slot, estate_);
    if (rel->rd_rel->relispartition) ExecPartitionCheck(result_rel_, slot, estate_, true);
  }
  table_multi_insert(rel, slots_.data(), n, estate_->es_output_cid, 0, bulk_);
  for (int i = 0; i < n; i++) {
    List* recheck = NIL;
    if (result_rel_->ri_NumIndices > 0)
      recheck = ExecInsertIndexTuples(result_rel_, slots_[i], estate_, false, false, nullptr, NIL);
    ExecARInsertTriggers(estate_, result_rel_, slots_[i], recheck, nullptr);
    list_free(recheck);
  }
  ResetPerTupleExprContext(estate_);
}

// Fires BEFORE STATEMENT triggers the first time this transaction writes this way.
void TableSinkOperator::open_statement(Statement kind) {
  if (statement_open_[kind]) return;
  statement_open_[kind] = true;
  if (kind == Insert) ExecBSInsertTriggers(estate_, result_rel_);
  if (kind == Update) ExecBSUpdateTriggers(estate_, result_rel_);
  if (kind == Delete) ExecBSDeleteTriggers(estate_, result_rel_);
}

void TableSinkOperator::insert_row() {
  if (foreign_) {
    insert_foreign();
    return;
  }
  open_statement(Insert);
  if (routing_) {
    // Into the row's partition, in the partition's column layout.
    ResultRelInfo* part = ExecFindPartition(mtstate_, result_rel_, routing_, slot_, estate_);
    TupleTableSlot* row = slot_;
    if (part->ri_RootToPartitionMap)
      row = execute_attr_map_slot(part->ri_RootToPartitionMap->attrMap, slot_,
                                  part->ri_PartitionTupleSlot);
    ExecSimpleRelationInsert(part, estate_, row);
    return;
  }
  ExecSimpleRelationInsert(result_rel_, estate_, slot_);
  unseen_writes_ = true;
}

// Makes the rows written so far visible to the lookups that follow (as logical replication's
// apply does between changes): a retraction may name a row inserted earlier in the same batch.
void TableSinkOperator::see_own_writes() {
  if (!unseen_writes_) return;
  CommandCounterIncrement();
  estate_->es_output_cid = GetCurrentCommandId(true);
  unseen_writes_ = false;
}

// One row into a foreign table of another wrapper, with its row triggers (as ExecInsert).
void TableSinkOperator::insert_foreign() {
  open_statement(Insert);
  TriggerDesc* triggers = result_rel_->ri_TrigDesc;
  if (triggers && triggers->trig_insert_before_row &&
      !ExecBRInsertTriggers(estate_, result_rel_, slot_))
    return;
  Relation rel = result_rel_->ri_RelationDesc;
  if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
    ExecComputeStoredGenerated(result_rel_, estate_, slot_, CMD_INSERT);
  TupleTableSlot* done =
      result_rel_->ri_FdwRoutine->ExecForeignInsert(estate_, result_rel_, slot_, nullptr);
  if (done) ExecARInsertTriggers(estate_, result_rel_, done, NIL, nullptr);
}

// Finds the stored row of slot_'s key, NULL keys included (its whole row, for a result without
// grouping keys).
bool TableSinkOperator::find_existing() {
  Relation rel = result_rel_->ri_RelationDesc;
  if (OidIsValid(key_index_) && !lookup_.is_open()) lookup_.open(rel, key_index_);
  if (OidIsValid(key_index_) && lookup_.find(slot_, existing_) &&
      (!whole_rows_ || existing_is_slot()))
    return true;
  if (OidIsValid(key_index_) && !whole_rows_) return false;
  return RelationFindReplTupleSeq(rel, LockTupleExclusive, slot_, existing_);
}

// Whether the row found is the one to delete, value for value (exact images).
bool TableSinkOperator::existing_is_slot() const {
  TupleDesc desc = slot_->tts_tupleDescriptor;
  slot_getallattrs(existing_);
  for (int c = 0; c < desc->natts; c++) {
    Form_pg_attribute att = TupleDescAttr(desc, c);
    if (att->attisdropped) continue;
    if (existing_->tts_isnull[c] != slot_->tts_isnull[c]) return false;
    if (!slot_->tts_isnull[c] &&
        !datum_image_eq(existing_->tts_values[c], slot_->tts_values[c], att->attbyval, att->attlen))
      return false;
  }
  return true;
}

void TableSinkOperator::upsert_row() {
  // (An updating source's batch may insert a key, then update it.)
  if (!key_columns_.empty() && !whole_rows_) see_own_writes();
  if (key_columns_.empty() || whole_rows_ || !find_existing()) {
    insert_row();
    return;
  }
  open_statement(Update);
  ExecSimpleRelationUpdate(result_rel_, estate_, epq_, existing_, slot_);
  unseen_writes_ = true;
}

void TableSinkOperator::delete_row() {
  see_own_writes();
  if (!find_existing()) return;
  open_statement(Delete);
  ExecSimpleRelationDelete(result_rel_, estate_, epq_, existing_);
}

// Whether two of `which`'s rows have equal keys (bitwise: see KeyLookup::bitwise_keys), by a
// hash table of the rows.
bool TableSinkOperator::batch_has_equal_keys(const Batch& rows, const std::vector<int>& which) {
  const int nkeys = lookup_.nkeys();
  size_t size = 16;
  while (size < 2 * which.size()) size *= 2;
  seen_.assign(size, 0);
  // A key column's value: its attlen bytes of the Datum (by value, at most 8).
  auto value = [&](int row, int c) {
    uint64 v = uint64(rows.values(row)[c]);
    int16 len = TupleDescAttr(slot_->tts_tupleDescriptor, c)->attlen;
    return len < 8 ? v & ((uint64(1) << (8 * len)) - 1) : v;
  };
  auto same = [&](int a, int b) {
    for (int k = 0; k < nkeys; k++) {
      int c = lookup_.key_column(k);
      if (rows.nulls(a)[c] != rows.nulls(b)[c]) return false;
      if (!rows.nulls(a)[c] && value(a, c) != value(b, c)) return false;
    }
    return true;
  };
  for (int row : which) {
    uint64 h = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < nkeys; k++) {
      int c = lookup_.key_column(k);
      uint64 v = rows.nulls(row)[c] ? 0x5bd1e995ULL : value(row, c);
      h = (h ^ v) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    for (size_t slot = h & (size - 1);; slot = (slot + 1) & (size - 1)) {
      if (seen_[slot] == 0) {
        seen_[slot] = row + 1;
        break;
      }
      if (same(seen_[slot] - 1, row)) return true;
    }
  }
  return false;
}

// One batch of an updating result the batched way (see batched_upserts_); false, having
// written nothing, if two of its rows have one key: then each row must see the one before it,
// row by row. Inside pg::call, after see_own_writes: rows found were all written before this
// batch, and no row of it looks for another's key, so none needs to see this batch's writes.
bool TableSinkOperator::upsert_batch(const Batch& rows) {
  const int n = rows.size();
  const int ncols = rows.ncols();
  rows_.clear();
  for (int i = 0; i < n; i++) {
    if (rows.op(i) != RowOp::Insert && i + 1 < n && rows.op(i + 1) == RowOp::Insert &&
        same_key(rows, i, i + 1))
      continue;  // the insert that follows updates this key's row in place
    rows_.push_back(i);
  }
  if (batch_has_equal_keys(rows, rows_)) return false;
  inserts_.clear();
  for (int i : rows_) {
    ExecClearTuple(slot_);
    memcpy(slot_->tts_values, rows.values(i), sizeof(Datum) * ncols);
    memcpy(slot_->tts_isnull, rows.nulls(i), sizeof(bool) * ncols);
    ExecStoreVirtualTuple(slot_);
    if (!lookup_.find(slot_, existing_)) {
      if (rows.op(i) == RowOp::Insert) inserts_.push_back(i);
    } else if (rows.op(i) == RowOp::Insert) {
      open_statement(Update);
      ExecSimpleRelationUpdate(result_rel_, estate_, epq_, existing_, slot_);
    } else {
      open_statement(Delete);
      ExecSimpleRelationDelete(result_rel_, estate_, epq_, existing_);
    }
    ResetPerTupleExprContext(estate_);
  }
  if (!inserts_.empty()) insert_batched(rows, inserts_.data(), int(inserts_.size()));
  unseen_writes_ = true;
  return true;
}

bool TableSinkOperator::same_key(const Batch& rows, int a, int b) const {
  for (int c : key_columns_) {
    if (rows.nulls(a)[c] != rows.nulls(b)[c]) return false;
    if (rows.nulls(a)[c]) continue;
    Form_pg_attribute att = TupleDescAttr(slot_->tts_tupleDescriptor, c);
    if (!datumIsEqual(rows.values(a)[c], rows.values(b)[c], att->attbyval, att->attlen))
      return false;
  }
  return true;
}

void TableSinkOperator::push(int, Batch& rows) {
  const int n = rows.size();
  const int ncols = rows.ncols();
  pg::call([&] {
    if (updating_) {
      // Rows this transaction wrote earlier must be visible to the lookups below.
      unseen_writes_ = true;
      see_own_writes();
    }
    if (batched_ && n > 0) insert_batched(rows, nullptr, n);
    const bool done = batched_ || (batched_upserts_ && upsert_batch(rows));
    for (int i = 0; i < n && !done; i++) {
      ExecClearTuple(slot_);
      memcpy(slot_->tts_values, rows.values(i), sizeof(Datum) * ncols);
      memcpy(slot_->tts_isnull, rows.nulls(i), sizeof(bool) * ncols);
      ExecStoreVirtualTuple(slot_);
      if (!updating_) {
        insert_row();
      } else if (rows.op(i) == RowOp::Insert) {
        upsert_row();
      } else if (!key_columns_.empty() && i + 1 < n && rows.op(i + 1) == RowOp::Insert &&
                 same_key(rows, i, i + 1)) {
        continue;  // the insert that follows updates this key's row in place
      } else {
        delete_row();
      }
      ResetPerTupleExprContext(estate_);
    }
  });
  stats_.rows_out += n;
}

// Fires queued AFTER triggers and releases the executor state; the transaction commits next.
void TableSinkOperator::end_transaction() {
  if (!estate_) return;
  pg::call([&] {
    if (statement_open_[Insert]) ExecASInsertTriggers(estate_, result_rel_, nullptr);
    if (statement_open_[Update]) ExecASUpdateTriggers(estate_, result_rel_, nullptr);
    if (statement_open_[Delete]) ExecASDeleteTriggers(estate_, result_rel_, nullptr);
    AfterTriggerEndQuery(estate_);
    if (foreign_) result_rel_->ri_FdwRoutine->EndForeignInsert(estate_, result_rel_);
    if (routing_) ExecCleanupTupleRouting(mtstate_, routing_);
    if (bulk_) FreeBulkInsertState(bulk_);
    if (epq_) EvalPlanQualEnd(epq_);
    lookup_.close();
    ExecCloseIndices(result_rel_);
    ExecCloseResultRelations(estate_);
    ExecResetTupleTable(estate_->es_tupleTable, false);
    table_close(result_rel_->ri_RelationDesc, NoLock);
    ExecCloseRangeTableRelations(estate_);
    FreeExecutorState(estate_);
  });
  estate_ = nullptr;
  mtstate_ = nullptr;
  routing_ = nullptr;
  epq_ = nullptr;
  bulk_ = nullptr;
  slots_.clear();
}

}  // namespace arroyo
