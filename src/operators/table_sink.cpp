#include "operators/table_sink.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "executor/nodeModifyTable.h"
}

#include <cstring>

namespace arroyo {

// Sets up an executor state for inserting into the target, as logical replication's apply does.
void TableSinkOperator::begin_transaction() {
  statement_open_ = false;
  pg::call([&] {
    Relation rel = table_open(relid_, RowExclusiveLock);
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
    TriggerDesc* triggers = result_rel_->ri_TrigDesc;
    batched_ = !(triggers && (triggers->trig_insert_before_row || triggers->trig_insert_instead_row));
    if (batched_) bulk_ = GetBulkInsertState();
    AfterTriggerBeginQuery();
  });
  slots_.clear();
}

// Checks every row of the batch as ExecSimpleRelationInsert would (generated columns,
// constraints, partition constraint), inserts them with one table_multi_insert, then adds their
// index entries and queues their AFTER ROW triggers. Runs inside pg::call.
void TableSinkOperator::insert_batched(const Batch& rows) {
  Relation rel = result_rel_->ri_RelationDesc;
  TupleConstr* constr = rel->rd_att->constr;
  const int n = rows.size();
  const int ncols = rows.ncols();
  while (int(slots_.size()) < n)
    slots_.push_back(ExecInitExtraTupleSlot(estate_, RelationGetDescr(rel), table_slot_callbacks(rel)));
  for (int i = 0; i < n; i++) {
    TupleTableSlot* slot = slots_[i];
    ExecClearTuple(slot);
    memcpy(slot->tts_values, rows.values(i), sizeof(Datum) * ncols);
    memcpy(slot->tts_isnull, rows.nulls(i), sizeof(bool) * ncols);
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
}

void TableSinkOperator::push(int, Batch& rows) {
  const int n = rows.size();
  const int ncols = rows.ncols();
  pg::call([&] {
    if (!statement_open_) {
      ExecBSInsertTriggers(estate_, result_rel_);
      statement_open_ = true;
    }
    if (batched_ && n > 0) insert_batched(rows);
    for (int i = 0; i < n && !batched_; i++) {
      ExecClearTuple(slot_);
      memcpy(slot_->tts_values, rows.values(i), sizeof(Datum) * ncols);
      memcpy(slot_->tts_isnull, rows.nulls(i), sizeof(bool) * ncols);
      ExecStoreVirtualTuple(slot_);
      ExecSimpleRelationInsert(result_rel_, estate_, slot_);
    }
    ResetPerTupleExprContext(estate_);
  });
  stats_.rows_out += n;
}

// Fires queued AFTER triggers and releases the executor state; the transaction commits next.
void TableSinkOperator::end_transaction() {
  if (!estate_) return;
  pg::call([&] {
    if (statement_open_) ExecASInsertTriggers(estate_, result_rel_, nullptr);
    AfterTriggerEndQuery(estate_);
    if (bulk_) FreeBulkInsertState(bulk_);
    ExecCloseIndices(result_rel_);
    ExecCloseResultRelations(estate_);
    ExecResetTupleTable(estate_->es_tupleTable, false);
    table_close(result_rel_->ri_RelationDesc, NoLock);
    ExecCloseRangeTableRelations(estate_);
    FreeExecutorState(estate_);
  });
  estate_ = nullptr;
  bulk_ = nullptr;
  slots_.clear();
  statement_open_ = false;
}

}  // namespace arroyo
