#include "operators/table_sink.hpp"

#include "pg/guard.hpp"

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
    AfterTriggerBeginQuery();
  });
}

void TableSinkOperator::push(int, Batch& rows) {
  const int n = rows.size();
  const int ncols = rows.ncols();
  pg::call([&] {
    if (!statement_open_) {
      ExecBSInsertTriggers(estate_, result_rel_);
      statement_open_ = true;
    }
    for (int i = 0; i < n; i++) {
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
    ExecCloseIndices(result_rel_);
    ExecCloseResultRelations(estate_);
    ExecResetTupleTable(estate_->es_tupleTable, false);
    table_close(result_rel_->ri_RelationDesc, NoLock);
    ExecCloseRangeTableRelations(estate_);
    FreeExecutorState(estate_);
  });
  estate_ = nullptr;
  statement_open_ = false;
}

}  // namespace arroyo
