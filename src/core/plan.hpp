// The logical plan: what the planner (src/planner/) produces from a pipeline's query and the
// runtime (src/runtime/) turns into operators.
// Expressions stay PostgreSQL expression trees (already planned with expression_planner);
// each node produces rows in `desc`, whose attribute k is referenced by Vars with varattno k.
// The plan is a DAG: a node may feed several consumers (a table read twice is one source).
#pragma once

#include "core/connector.hpp"

#include <memory>
#include <string>
#include <vector>

namespace arroyo {

struct PlanNode {
  enum class Kind {
    Source,
    Project,
    Union,
    WindowAggregate,
    UpdatingAggregate,
    Join,
    WindowFunction,
    TopN,
    LookupJoin,
    ProjectSet
  };
  explicit PlanNode(Kind k) : kind(k) {}
  virtual ~PlanNode() = default;
  Kind kind;
  TupleDesc desc = nullptr;  // rows this node produces
  // Whether the rows carry deletes as well as inserts (Arroyo's updating semantics).
  bool updating = false;
};

using PlanNodePtr = std::shared_ptr<PlanNode>;

// Reads a foreign table through its connector; rows in the table's full layout.
struct SourceNode : PlanNode {
  SourceNode() : PlanNode(Kind::Source) {}
  TableSpec spec;
  const Connector* connector = nullptr;
  // Generated columns, computed after the connector fills the others: a full-row target list
  // (Vars for plain columns), or NIL when the table has none.
  List* generated = nullptr;
  int time_column = -1;  // 0-based column holding event time (event_time_field)
  // Without event_time_field: a column the connector fills with each row's event time, or -1.
  int natural_time_column = -1;
  // 0-based columns declared NOT NULL (foreign tables): a row with NULL there is dropped as bad.
  std::vector<int> not_null_columns;
  int64 watermark_delay_us = 0;
  int64 idle_timeout_us = 0;
};

// Filters (quals, implicitly ANDed) then computes `targets` (one Expr per output column).
struct ProjectNode : PlanNode {
  ProjectNode() : PlanNode(Kind::Project) {}
  PlanNodePtr input;
  List* quals = nullptr;    // of Expr
  List* targets = nullptr;  // of TargetEntry, resno 1..n
};

// UNION ALL: rows of every input, which all have the same column types.
struct UnionNode : PlanNode {
  UnionNode() : PlanNode(Kind::Union) {}
  std::vector<PlanNodePtr> inputs;
};

// Time windows, as GROUP BY keys: tumble(width), hop(slide, width), session(gap).
struct WindowSpec {
  enum class Kind { Tumble, Hop, Session } kind = Kind::Tumble;
  int64 width_us = 0;  // tumble and hop
  int64 slide_us = 0;  // hop (tumble: equal to width)
  int64 gap_us = 0;    // session
};

// One aggregate call of a windowed query: its arguments (and FILTER) come from the input row.
struct AggregateSpec {
  Aggref* aggref = nullptr;
  int first_arg = 0;    // input column of its first argument
  int filter_col = -1;  // input column of its FILTER (WHERE …) condition, or -1
  bool distinct = false;
};

// Groups rows by window and key columns (the first num_keys input columns) and emits, when the
// watermark passes a window's end, one row per group: (window tstzrange, keys..., aggregates...).
struct WindowAggregateNode : PlanNode {
  WindowAggregateNode() : PlanNode(Kind::WindowAggregate) {}
  PlanNodePtr input;
  WindowSpec window;
  int num_keys = 0;
  std::vector<AggregateSpec> aggregates;
};

// A non-windowed GROUP BY (or a global aggregate): keeps one state per key and, every flush
// interval, emits each changed group's old row as a delete and its new row as an insert.
// Output rows: (keys..., aggregates...).
struct UpdatingAggregateNode : PlanNode {
  UpdatingAggregateNode() : PlanNode(Kind::UpdatingAggregate) {}
  PlanNodePtr input;
  int num_keys = 0;
  std::vector<AggregateSpec> aggregates;
};

// An equality join (updating semantics; or a windowed join, see window_key): rows are the left
// input's columns, then the right input's. A pair of rows joins when their keys are equal (never
// when a key is NULL) and `residual` holds; LEFT, RIGHT and FULL joins also emit each row of their
// preserved side(s) that has no match, padded with NULLs, and retract it when a match arrives.
// SEMI and ANTI joins (IN / EXISTS, NOT EXISTS) produce only left rows: a semi join each left row
// while it has a match, an anti join each left row while it has none (a NULL key: never one).
struct JoinNode : PlanNode {
  enum class Type { Inner, Left, Right, Full, Semi, Anti };
  JoinNode() : PlanNode(Kind::Join) {}
  Type type = Type::Inner;
  PlanNodePtr left, right;
  // Key expressions over each side's rows (Vars numbered by that side's columns), pairwise of
  // one type, compared with that type's default hash equality.
  List* left_keys = nullptr;
  List* right_keys = nullptr;
  // Further ON conditions (implicitly ANDed) over the joined row, or NIL.
  List* residual = nullptr;
  // A windowed join: the key pair (index into the keys) that is both sides' time window, each
  // side a windowed aggregate with the same window. Rows of a window are kept until the
  // watermark passes its end; then unmatched rows of an outer join are emitted, NULL-padded,
  // and the window's rows freed. The output is append-only. -1: an updating join.
  int window_key = -1;
  // An interval join: over append-only inputs, conditions bound each side's event time by a
  // value of the other side's rows (`b.ts <= a.ts + 5 s`, `b.ts <= a.expires`). Each side's
  // event time column (0-based; a tumble or hop window column with `_is_window`, whose end is
  // the time), and its expiry bound: a row of that side is kept until the other side's
  // watermark reaches the row's expiry column (a window's end with `_is_window`; NULL: at
  // once) plus the offset, as no later row of the other side can match it; then, if it never
  // matched, an outer join emits it NULL-padded. The output is append-only. -1: none.
  int left_time_col = -1, right_time_col = -1;
  bool left_time_is_window = false, right_time_is_window = false;
  int left_expiry_col = -1, right_expiry_col = -1;
  bool left_expiry_is_window = false, right_expiry_is_window = false;
  int64 left_expiry_offset_us = 0, right_expiry_offset_us = 0;
  // Semi and anti joins: the rows the residual conditions see (left columns, then right).
  TupleDesc pair_desc = nullptr;
  bool filters() const { return type == Type::Semi || type == Type::Anti; }
  bool interval() const { return left_time_col >= 0; }
  bool preserves_left() const { return type == Type::Left || type == Type::Full; }
  bool preserves_right() const { return type == Type::Right || type == Type::Full; }
};

// A lookup join (`[LEFT] JOIN LATERAL (SELECT … FROM table WHERE … = stream.col) s ON true`):
// each row of the append-only input is matched, when it is processed, with the rows the
// subquery returns for it under a fresh snapshot; rows are the input's columns, then the
// subquery's. Per batch, the distinct values of the subquery's references to the input
// (`param_columns`) are looked up in one query: `lookup`, which reads them from array
// parameters $1..$n (unnest … WITH ORDINALITY k) and returns (k.ordinality, subquery columns…).
// No state: later changes to the table never retract an earlier result.
struct LookupJoinNode : PlanNode {
  LookupJoinNode() : PlanNode(Kind::LookupJoin) {}
  PlanNodePtr input;
  bool left = false;        // LEFT JOIN LATERAL: an input row without a match is NULL-padded
  Query* lookup = nullptr;  // analyzed, unplanned; copied before each planning
  // Per parameter: the input column (0-based) it is, or -1 for an expression over the input's
  // columns (`o.k % 4`), computed per row from param_exprs (planned, Vars of the input rows).
  std::vector<int> param_columns;
  List* param_exprs = nullptr;
  std::vector<Oid> param_array_types;
  TupleDesc subquery_desc = nullptr;  // the subquery's columns
  std::string tables;                 // the relations it reads, for messages ("customers")
  bool scans = false;                 // no index serves its conditions: each batch scans a table
  bool cacheable = false;             // reads only foreign tables (of other wrappers)
  // A lookup table of a connector (Redis; Connector::make_lookup) instead of `lookup`: one
  // parameter, the key; per subquery column, the table column (0-based) it reads.
  Oid lookup_table = InvalidOid;
  TableSpec lookup_spec;
  const Connector* lookup_connector = nullptr;
  std::vector<int> lookup_columns;
};

// Window functions (OVER) evaluated by PostgreSQL's own executor (a WindowAgg over the buffered
// rows, read as an ephemeral named relation) once the watermark passes the rows: either whole
// closed time windows (PARTITION BY a windowed aggregate's window: every row of a partition
// arrives before the watermark passes it), or event-time OVER per key, where each evaluation
// also sees the rows its frames look back at (`lookback_rows`, `lookback_us`, the first row)
// and forward to (`lookahead_rows`, for lead). See src/operators/window_function.hpp.
struct WindowFunctionNode : PlanNode {
  WindowFunctionNode() : PlanNode(Kind::WindowFunction) {}
  PlanNodePtr input;
  // SELECT over the relation "arroyo_window_rows": the input's columns, then its event time
  // (timestamptz) and whether the row is to be emitted (boolean); produces `desc`'s columns,
  // then the event time and the emit flag, ordered by event time.
  Query* query = nullptr;
  std::vector<int> partition_cols;  // 0-based input columns keying the rows (event-time OVER)
  bool per_key = false;             // event-time OVER per key (else closed time windows)
  int lookback_rows = 0;            // rows before the current one a frame or lag() reads
  int64 lookback_us = 0;            // event time before the current row a RANGE frame reads
  bool keep_first = false;          // first_value over a frame starting at the partition
  int lookahead_rows = 0;           // rows after the current one lead() reads
};

// One ORDER BY key of a top-N, over a 0-based input column.
struct SortKeySpec {
  int column = 0;
  Oid sort_op = InvalidOid;  // the "<" or ">" operator
  Oid collation = InvalidOid;
  bool nulls_first = false;
};

// Top-N per partition: the rows whose row_number(), rank() or dense_rank() OVER (PARTITION BY
// partition_cols ORDER BY order) is at most `limit`. Output rows: the input's columns, then
// (with rank_column) the rank as bigint. Over a windowed aggregate's rows (`windowed`: a
// partition column is the time window), each partition keeps at most its top rows and is
// emitted, append-only, when the watermark passes it; otherwise the result is updating: rows
// enter and leave the top as ranks change (also ORDER BY … LIMIT n, one partition).
struct TopNNode : PlanNode {
  enum class Rank { RowNumber, Rank, DenseRank };
  TopNNode() : PlanNode(Kind::TopN) {}
  PlanNodePtr input;
  std::vector<int> partition_cols;
  std::vector<SortKeySpec> order;
  Rank rank = Rank::RowNumber;
  int64 limit = 0;
  bool rank_column = true;
  bool windowed = false;
};

// Set-returning functions (PostgreSQL's ProjectSet, and a function in FROM lateral to its input):
// for each input row, `functions` are called in lockstep, one output row per step, until every
// one is exhausted (those done earlier give NULL). Rows: the input's columns, then each
// function's columns, then (ordinality) a bigint counting the steps from 1. A row's op and
// event time are its input row's: a delete expands to the same rows as deletes.
struct ProjectSetNode : PlanNode {
  ProjectSetNode() : PlanNode(Kind::ProjectSet) {}
  PlanNodePtr input;
  List* functions = nullptr;  // of Expr over input rows; a non-set one gives one row
  // Per function: 0, one column holding its value (the select list); n > 0, a composite value
  // expanded into n columns (FROM). `record_descs`: for n > 0, the columns' layout.
  std::vector<int> widths;
  std::vector<TupleDesc> record_descs;
  bool ordinality = false;
  // Conditions over output rows (implicitly ANDed); with `outer` (LEFT JOIN LATERAL), an input
  // row none of whose rows passes them is emitted once, its function columns NULL.
  List* quals = nullptr;
  bool outer = false;
};

// Where results go.
struct SinkTarget {
  Oid relid = InvalidOid;
  std::string name;
  bool is_table = true;      // a regular table; else a sink foreign table
  bool foreign = false;      // (with is_table) a foreign table of another wrapper
  bool partitioned = false;  // (with is_table) a partitioned table: rows are routed
  TableSpec spec;            // for foreign tables
  const Connector* connector = nullptr;
  // For updating results: the target columns (0-based) holding the grouping keys, and the
  // unique index of a table target that finds a key's row (InvalidOid: match whole rows).
  bool updating = false;
  std::vector<int> key_columns;
  Oid key_index = InvalidOid;
  // An updating result without grouping keys (a join's, an updating source's) into a table:
  // rows are inserted as they come, and a retraction deletes one stored row equal to it,
  // found through key_index (a unique index of the target, if it has one) or by a scan.
  bool whole_rows = false;
  // Grouping keys written to a narrower integer column ("grouping key 1 (bigint) is written
  // to column "k" of "t" (integer)"): a key out of the column's range then fails the pipeline
  // with "integer out of range", which this explains.
  std::string narrowed_keys;
  // A preview (stream_preview): no target; rows go to the caller with their operation. The
  // first `preview_columns` columns are the query's; `preview_window` (or -1) is the column
  // holding the window (a tstzrange) of a windowed result, which may lie past them.
  bool preview = false;
  int preview_columns = 0;
  int preview_window = -1;
};

// Pipeline-level settings given with SET before the INSERT.
struct PipelineSettings {
  int parallelism = 1;                  // workers running the pipeline (SET parallelism)
  int64 checkpoint_interval_us = -1;    // -1: the GUC's value
  int64 updating_ttl_us = -1;           // -1: the GUC's value
  int64 update_flush_interval_us = -1;  // -1: the GUC's value
  // Lookups of foreign tables: keep each key's rows this long (0: no cache), at most this
  // many rows in all (lookup.cache.ttl, lookup.cache.max_rows).
  int64 lookup_cache_ttl_us = 0;
  int64 lookup_cache_max_rows = -1;  // -1: unbounded (with a ttl)
};

struct LogicalPlan {
  PipelineSettings settings;
  bool reads_table_changes = false;  // has a change-data-capture source (a replication slot)
  PlanNodePtr root;                  // produces rows in the target's full layout
  SinkTarget sink;
};

}  // namespace arroyo
