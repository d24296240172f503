// How a splitting source divides numbered work among a pipeline's parallel workers (Connector::
// splits_source): worker `subtask` of `parallelism` takes the numbers i >= 0 with
// i % parallelism == subtask (Kafka partitions, impulse counters, Nexmark event numbers), so
// the union over the workers is exactly what one worker takes at parallelism 1, each number
// in one worker. PostgreSQL-free (test/unit/subtask_share_test.cpp).
#pragma once

#include <cstdint>

namespace arroyo {

struct SubtaskShare {
  int64_t subtask = 0;      // 0 .. parallelism - 1
  int64_t parallelism = 1;  // >= 1

  SubtaskShare() = default;
  SubtaskShare(int64_t subtask_index, int64_t workers)
      : subtask(subtask_index), parallelism(workers < 1 ? 1 : workers) {}

  // Whether number i (>= 0) is this worker's.
  bool owns(int64_t i) const { return i % parallelism == subtask; }

  // The first of this worker's numbers at or after `from` (>= 0): `from` itself at
  // parallelism 1.
  int64_t first_at_or_after(int64_t from) const {
    int64_t r = from % parallelism;
    return r <= subtask ? from - r + subtask : from - r + parallelism + subtask;
  }

  // How many of this worker's numbers lie in [from, to) (0 <= from; none when to <= from).
  int64_t count(int64_t from, int64_t to) const {
    int64_t first = first_at_or_after(from);
    return to > first ? (to - first - 1) / parallelism + 1 : 0;
  }
};

}  // namespace arroyo
