// Per-operator counters of a running pipeline (the stream_operators view): one entry per
// node of the logical plan, numbered as stream_explain numbers them (core/plan_walk.hpp).
// Plain data (trivial, no initializers), so that it can be copied into shared memory as it is;
// Dataflow::collect_node_stats sets every field.
#pragma once

#include "pg/postgres.hpp"

namespace arroyo {

constexpr int kNodeKindLen = 32;

struct NodeStats {
  int32 node;               // 0: the sink; then the plan's nodes as EXPLAIN numbers them
  char kind[kNodeKindLen];  // "source", "project", …, "sink"
  int64 rows_in;            // rows received (a source: rows its connector produced)
  int64 rows_out;           // rows emitted (the sink: rows written)
  int64 late_rows;          // rows dropped behind the watermark
  int64 bad_rows;           // rows dropped as malformed or without event time
  int64 state_bytes;        // memory of its state (measured about once a second)
  int64 state_keys;         // keys (groups) it keeps state for; -1: it keeps none
  TimestampTz watermark;    // the last watermark it emitted (the sink: received); DT_NOBEGIN
  int64 busy_us;            // wall time spent in it, not counting nodes it fed
};

}  // namespace arroyo
