// Key groups: how keyed state is divided among a pipeline's workers. A key's hash (its key
// columns hashed with their types' own hash functions, as GroupTable hashes them) falls in
// one of kKeyGroups key groups, its low bits, and worker w of N owns the contiguous range
// [w * kKeyGroups / N, (w + 1) * kKeyGroups / N), as Flink assigns its max parallelism. The
// exchanges route rows by it (runtime/exchange.hpp); rescaling moves state by it.
#pragma once

#include "pg/postgres.hpp"

#include <algorithm>

namespace arroyo {

// The most workers a pipeline can have; the unit in which keyed state is redistributed.
constexpr int kKeyGroups = 128;

// The key group of a key's hash.
inline int key_group_of(uint32 hash) { return int(hash & (kKeyGroups - 1)); }

// The worker that owns `key_group` among `parallelism` workers.
inline int key_group_owner(int key_group, int parallelism) {
  return int(int64(key_group) * parallelism / kKeyGroups);
}

// Which keys one worker of a pipeline keeps: those of its key groups (all with one worker).
struct KeyGroupFilter {
  int subtask = 0;
  int parallelism = 1;
  bool keeps(uint32 hash) const {
    return parallelism <= 1 || key_group_owner(key_group_of(hash), parallelism) == subtask;
  }
};

// Rescaling merges an operator's own entries (watermarks) of several old workers: the least value
// of each
// (`first`: the first such entry).
inline void merge_least(int64& into, int64 value, bool first) {
  into = first ? value : std::min(into, value);
}

}  // namespace arroyo
