// Lookup join: each row of an append-only stream matched with the rows a LATERAL subquery
// returns for it when the row is processed (see LookupJoinNode in core/plan.hpp). Per batch,
// the distinct values of the stream columns the subquery references are looked up with one
// query, under a fresh snapshot, through PostgreSQL's planner and executor, as the pipeline's
// owner. No state: a replay after a crash looks the events up again, in the table as it is then.
// Lookups of foreign tables only may keep each key's rows for a while (lookup.cache.*).
#pragma once

#include "core/operator.hpp"
#include "core/plan.hpp"
#include "pg/postgres.hpp"

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace arroyo {

class LookupJoinOperator : public Operator {
 public:
  // Output rows allocate their values in `row_memory`, which the engine resets per round.
  LookupJoinOperator(const LookupJoinNode& node, const PipelineSettings& settings,
                     MemoryContext row_memory);
  ~LookupJoinOperator() override;
  void begin_transaction() override;
  void push(int port, Batch& rows) override;
  int64 state_bytes() const override { return cache_bytes_; }
  std::string status() const override { return table_ ? table_->status() : std::string(); }

  // Called by the executor's receiver for each row of the lookup query (inside pg::call).
  void receive(TupleTableSlot* slot);

 private:
  // One key's rows: `count` rows of the subquery's width from `first` in the result arrays.
  struct Found {
    int first = 0, count = 0;
  };
  struct CacheEntry {
    TimestampTz fetched;
    int count = 0;              // rows
    std::vector<Datum> values;  // by-reference values palloc'd in cache_memory_
    std::vector<bool> nulls;
  };

  void plan();
  // The parameters' values for each row of `rows` (pv_, pn_).
  void parameters(Batch& rows);
  // The distinct keys of `rows` (key_of_row_, key_rows_).
  void distinct_keys(const Batch& rows);
  // Looks up the keys in `probe` (indexes into key_rows_) with one query.
  void run_lookup(const std::vector<int>& probe);
  // run_lookup's query, for a connector's lookup table: one round trip for the probed keys.
  void run_table_lookup(const std::vector<int>& probe);
  void emit_rows(const Batch& rows);
  // Keeps the rows of a key just probed.
  void cache_store(int key);
  // Drops expired entries and, over max_rows, the oldest ones.
  void cache_evict();

  const LookupJoinNode& node_;
  int in_cols_, sub_cols_;
  std::vector<int16> sub_len_;
  std::vector<bool> sub_byval_;
  std::vector<int16> key_len_;  // per parameter column of the input
  std::vector<bool> key_byval_;
  std::vector<char> key_align_;
  std::vector<Oid> key_type_;
  int nparams_;
  bool computed_;  // some parameters are expressions over the input's columns
  ExprContext* econtext_ = nullptr;
  TupleTableSlot* in_slot_ = nullptr;
  std::vector<ExprState*> param_states_;  // per parameter: its expression, or nullptr (a column)
  MemoryContext row_memory_, plan_memory_, batch_memory_, cache_memory_ = nullptr;
  PlannedStmt* plan_ = nullptr;  // for the current transaction
  DestReceiver* receiver_ = nullptr;
  Batch out_;
  // Per batch.
  std::vector<Datum> pv_;        // per row, the parameters' values
  std::vector<char> pn_;         // and whether they are NULL
  std::vector<int> key_of_row_;  // the key index of each input row
  std::vector<int> key_rows_;    // per key, its first input row
  std::vector<std::string> key_bytes_;
  std::unordered_map<std::string, int> key_index_;
  std::vector<Found> found_;  // per key
  std::vector<Datum> res_values_;
  std::vector<bool> res_nulls_;
  std::vector<int> res_key_;               // per result row, its key (receive order)
  std::vector<int> sorted_;                // result rows grouped by key (Found::first indexes it)
  std::vector<const CacheEntry*> cached_;  // per key: its cache entry, or nullptr
  // A connector's lookup table (node_.lookup_table), and the key's output function.
  std::unique_ptr<LookupTable> table_;
  FmgrInfo key_output_;
  std::vector<std::string> table_keys_;
  std::vector<int> table_key_probe_;  // per key in table_keys_, its index in `probe`
  std::vector<int> row_of_key_;
  // The cache (foreign tables only).
  int64 ttl_us_ = 0, max_rows_ = -1;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::deque<std::pair<std::string, TimestampTz>> cache_order_;  // oldest first
  int64 cache_rows_ = 0, cache_bytes_ = 0;
};

}  // namespace arroyo
