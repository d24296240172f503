// Appends rows to a regular table through PostgreSQL's executor insert path: constraints,
// defaults (computed upstream), generated columns, indexes and triggers all apply. Each
// transaction that writes rows counts as one INSERT statement for statement-level triggers.
#pragma once

#include "engine/operator.hpp"
#include "pg/postgres.hpp"

#include <vector>

namespace arroyo {

class TableSinkOperator : public Operator {
 public:
  TableSinkOperator(Oid relid, EngineStats& stats) : relid_(relid), stats_(stats) {}
  void begin_transaction() override;
  void push(int port, Batch& rows) override;
  void watermark(int, TimestampTz wm) override { stats_.watermark = wm; }
  void end_transaction() override;

 private:
  Oid relid_;
  EngineStats& stats_;
  EState* estate_ = nullptr;
  ResultRelInfo* result_rel_ = nullptr;
  TupleTableSlot* slot_ = nullptr;
  bool statement_open_ = false;  // BEFORE STATEMENT triggers fired in this transaction
  // Without BEFORE/INSTEAD OF row triggers, each batch goes in with one table_multi_insert
  // (as COPY does) through these slots; otherwise row by row.
  bool batched_ = false;
  std::vector<TupleTableSlot*> slots_;
  BulkInsertState bulk_ = nullptr;
  void insert_batched(const Batch& rows);
};

}  // namespace arroyo
