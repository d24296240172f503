// The checkpoint entry of a generator source that splits (impulse, nexmark): its position in the
// numbered sequence (src/core/subtask_share.hpp: ShareCursor) and a timestamp it needs to
// regenerate the same sequence (impulse: the event time of counter 0; nexmark: the sequence's
// start). While the position is the worker's own share only, the entry is the two integers
// {next, time} every version wrote; after a rescale, while spans emitted before it still lie
// ahead, it is {next, time, stride, residue, next, span count, (stride, residue, end) per span}.
#pragma once

#include "core/subtask_share.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <string>
#include <vector>

namespace arroyo {

inline std::string encode_generator_position(const SharePosition& p, int64 time) {
  StateEncoder e;
  e.put_int(p.next);
  e.put_int(time);
  if (!p.spans.empty())
    for (int64_t v : p.to_ints()) e.put_int(v);
  return e.bytes();
}

// Reads an entry back. A two-integer entry is the share of worker `residue` of `stride` (the
// parallelism its writer ran with).
inline SharePosition decode_generator_position(const StateEntry& entry, int64 stride, int64 residue,
                                               int64* time, const std::string& what) {
  StateDecoder d(entry.value.data(), entry.value.size(), what);
  std::vector<int64_t> v;
  while (!d.at_end()) v.push_back(d.get_int());
  SharePosition p;
  if (v.size() < 2) d.corrupt("it holds " + std::to_string(v.size()) + " integer(s)");
  *time = v[1];
  if (v.size() == 2) {
    p.stride = stride < 1 ? 1 : stride;
    p.residue = residue;
    p.next = v[0] < 0 ? 0 : v[0];
    return p;
  }
  if (!p.from_ints(std::vector<int64_t>(v.begin() + 2, v.end())) || p.next != v[0])
    d.corrupt("its list of emitted spans is malformed");
  return p;
}

}  // namespace arroyo
