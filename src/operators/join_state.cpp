// Checkpoints of the join: one entry per key, holding both sides' rows with their
// multiplicities and match counts.
#include "operators/join.hpp"

#include "operators/group_checkpoint.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {
constexpr int64 kKeyPart = 0;
}  // namespace

void JoinOperator::checkpoint(StateWriter& w) {
  for (const std::string& key : removed_) w.remove(kKeyPart, key);
  removed_.clear();
  write_changed_groups(w, kKeyPart, *table_, unsaved_, round_memory_,
                       [&](Group* g, StateEncoder& out) { encode_group(g, out); });
}

// A key's entry: when a row last touched it, then per side its rows, each with its count and
// how many rows of the other side it joins with (those may be gone already: an interval join
// frees each side's rows on its own schedule). Inside pg::call.
void JoinOperator::encode_group(Group* g, StateEncoder& out) {
  out.put_int(g->last_seen);
  for (int s = 0; s < 2; s++) {
    const std::vector<ValueType>& types = sides_[s].types;
    int64 n = 0;
    g->multisets[s].for_each([&](const ValueMultiset::Entry&) { n++; });
    out.put_int(n);
    g->multisets[s].for_each([&](const ValueMultiset::Entry& e) {
      out.put_int(e.count);
      out.put_int(e.matches);
      for (size_t c = 0; c < types.size(); c++)
        out.put_datum(e.args[c], e.nulls[c], types[c].byval, types[c].len);
    });
  }
}

// Reads encode_group()'s entry into a new group's rows (kept in the operator's memory).
// Inside pg::call.
void JoinOperator::decode_group(Group* g, StateDecoder& in) {
  g->multisets = new_value_multisets(2, &multiset_bytes_);
  g->rows = 0;
  g->last_seen = in.get_int();
  for (int s = 0; s < 2; s++) {
    const std::vector<ValueType>& types = sides_[s].types;
    int64 n = in.get_int();
    std::vector<Datum> values(types.size() + 1);
    std::unique_ptr<bool[]> nulls(new bool[types.size() + 1]);
    for (int64 k = 0; k < n; k++) {
      int64 count = in.get_int();
      int64 matches = in.get_int();
      if (count <= 0 || matches < 0)
        in.corrupt("a join row is counted " + std::to_string(count) + " times");
      for (size_t c = 0; c < types.size(); c++)
        values[c] = in.get_datum(&nulls[c], types[c].byval, types[c].len);
      ValueMultiset::Entry* e = nullptr;
      for (int64 i = 0; i < count; i++)
        e = g->multisets[s].add(types, values.data(), nulls.get(), memory_);
      e->matches = matches;
    }
  }
}

void JoinOperator::rescale(int, const KeyGroupFilter& keep) {
  rescale_ = RescaleGroups{keep, &unsaved_};
}

void JoinOperator::restore(const StateEntry& e) {
  if (e.part != kKeyPart) {
    StateDecoder(e.value.data(), e.value.size(), "a join entry").corrupt("unknown entry");
  }
  Group* g = restore_group(
      *table_, e, round_memory_, "a join",
      [&](Group* group, StateDecoder& in) { decode_group(group, in); },
      rescale_ ? &*rescale_ : nullptr);
  if (g) pg::call([&] { track_window(g); });
}

void JoinOperator::restored() {
  if (!interval_) return;
  table_->for_each([&](Group* g) {
    for (int s = 0; s < 2; s++)
      g->multisets[s].for_each([&](const ValueMultiset::Entry& e) {
        for (int64 c = 0; c < e.count; c++) track_expiry(s, g, e.args, e.nulls);
      });
  });
}

}  // namespace arroyo
