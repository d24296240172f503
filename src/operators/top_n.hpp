// Top-N per partition: the rows ranked at most N by row_number(), rank() or dense_rank()
// OVER (PARTITION BY … ORDER BY …), computed natively (the rows of a partition kept sorted with
// the ORDER BY operators' sort support).
//
//  * Windowed (a partition column is a windowed aggregate's window): a partition keeps only the
//    rows that can still rank at most N — N rows, plus the ties of the last one for rank() and
//    the rows of the first N distinct values for dense_rank() — since arriving rows only push
//    ranks down. When the watermark passes the partition's window, its rows are emitted with
//    their rank (append-only) and it is forgotten: O(N) state per open partition.
//  * Updating (over a non-windowed aggregate, an updating or an unbounded input; also
//    ORDER BY … LIMIT n, one partition): over updating input a partition keeps every live
//    input row, since a row of the top that is retracted must be replaced by the next one
//    (over append-only input, only the rows that can still rank at most N, as above); every
//    flush, each changed partition emits a delete for each row that left its top (or whose
//    rank changed) and an insert for each row that entered it.
#pragma once

#include "core/operator.hpp"
#include "core/plan.hpp"
#include "operators/group_checkpoint.hpp"
#include "operators/group_table.hpp"
#include "operators/stored_row.hpp"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

struct SortSupportData;

namespace arroyo {

class TopNOperator : public Operator {
 public:
  TopNOperator(const TopNNode& node, EngineStats& stats, MemoryContext round_memory);
  ~TopNOperator() override;

  void push(int port, Batch& rows) override;
  void watermark(TimestampTz wm) override;
  void flush() override;
  void end() override;
  void idle() override {}
  int64 state_bytes() const override;
  // One entry per partition changed since the last checkpoint (its rows, and the rows it last
  // emitted), and the watermark.
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism, const KeyGroupFilter& keep) override;

 private:
  // The ORDER BY as a strict weak order of kept rows (used inside pg::call only).
  struct RowOrder {
    const TopNOperator* op;
    bool operator()(const StoredRow& a, const StoredRow& b) const {
      return op->compare(a.values, a.nulls, b.values, b.nulls) < 0;
    }
  };
  using Rows = std::multiset<StoredRow, RowOrder>;
  struct Partition {
    explicit Partition(const TopNOperator* op) : rows(RowOrder{op}) {}
    Rows rows;                       // sorted by the ORDER BY; peers in arrival order
    std::vector<StoredRow> emitted;  // updating: the output rows (with rank) last emitted
    TimestampTz time = DT_NOBEGIN;   // windowed: the rows' event time (the window's last µs)
    bool dirty = false;
  };
  // Inside pg::call: <0, 0, >0 as row a sorts before, with, after row b.
  int compare(const Datum* av, const bool* an, const Datum* bv, const bool* bn) const;
  // Inside pg::call: the leading rows ranked at most N, and their ranks.
  void rank_top(const Partition& p, std::vector<const StoredRow*>& top,
                std::vector<int64>& ranks) const;
  Partition& part(Group* g) { return parts_.try_emplace(g, this).first->second; }
  void insert(Group* g, Partition& p, const Datum* values, const bool* nulls, TimestampTz t);
  void retract(Partition& p, const Datum* values, const bool* nulls);
  void emit_windows(TimestampTz wm);
  void emit_row(const StoredRow& r, int64 rank, RowOp op);
  void forget(Group* g);

  int in_cols_, out_cols_;
  std::vector<int> partition_cols_;
  std::vector<int> sort_cols_;
  SortSupportData* sort_ = nullptr;  // one per ORDER BY key
  TopNNode::Rank rank_;
  int64 limit_;
  bool rank_column_, windowed_;
  bool prune_;  // append-only input: rows pushed out of the top never come back
  std::vector<KeyType> key_types_;
  RowLayout layout_, out_layout_;
  EngineStats& stats_;
  MemoryContext memory_, scratch_, round_memory_;
  std::unique_ptr<GroupTable> keys_;
  std::unordered_map<Group*, Partition> parts_;
  std::vector<Group*> dirty_;
  UnsavedGroups unsaved_;
  std::vector<std::string> removed_;
  TimestampTz watermark_ = DT_NOBEGIN, saved_watermark_ = DT_NOBEGIN;
  std::optional<RescaleGroups> rescale_;  // rescaling: the groups kept (see rescale())
  bool meta_restored_ = false;
  Batch out_;
};

}  // namespace arroyo
