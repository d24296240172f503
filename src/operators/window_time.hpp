// Window arithmetic shared by the window aggregate and its first phase (window_partial.hpp).
#pragma once

#include "pg/time.hpp"

namespace arroyo {

// PostgreSQL counts time from 2000-01-01; windows are aligned to the Unix epoch (1970-01-01
// 00:00 UTC), as in Flink and Arroyo, which is pg::kUnixToPostgresUs before PostgreSQL's.
//
// The start of the step-aligned interval holding t: the largest multiple of `step` since the
// Unix epoch not after t (floor division; no overflow anywhere in the timestamp range).
inline TimestampTz window_align(TimestampTz t, int64 step) {
  int64 r = (t % step + pg::kUnixToPostgresUs % step) % step;
  if (r < 0) r += step;
  return t - r;
}

// start + width, or infinity where that is past the end of time.
inline TimestampTz window_end(TimestampTz start, int64 width) {
  TimestampTz end;
  if (__builtin_add_overflow(start, width, &end) || end > END_TIMESTAMP) return DT_NOEND;
  return end;
}

}  // namespace arroyo
