// Checkpoints of the updating join: one entry per key, holding both sides' rows with their
// multiplicities. How many matches each row has is recomputed after a restore.
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

// A key's entry: when a row last touched it, the left rows, then the right rows. Inside
// pg::call.
void JoinOperator::encode_group(Group* g, StateEncoder& out) {
  out.put_int(g->last_seen);
  for (int s = 0; s < 2; s++) g->multisets[s].encode(sides_[s].types, out);
}

// Reads encode_group()'s entry into a new group's rows (kept in the operator's memory).
// Inside pg::call.
void JoinOperator::decode_group(Group* g, StateDecoder& in) {
  g->multisets = new ValueMultiset[2];
  g->rows = 0;
  g->last_seen = in.get_int();
  for (int s = 0; s < 2; s++) g->multisets[s].decode(sides_[s].types, in, memory_);
}

void JoinOperator::restore(const StateEntry& e) {
  if (e.part != kKeyPart) {
    StateDecoder(e.value.data(), e.value.size(), "a join entry").corrupt("unknown entry");
  }
  Group* g = restore_group(*table_, e, round_memory_, "a join",
                           [&](Group* group, StateDecoder& in) { decode_group(group, in); });
  pg::call([&] { track_window(g); });
}

// Counts, for every kept row, the rows of the other side it joins with (inside pg::call).
void JoinOperator::recount_matches(Group* g) {
  for (int s = 0; s < 2; s++)
    g->multisets[s].for_each_mutable([&](ValueMultiset::Entry& e) {
      e.matches = 0;
      g->multisets[1 - s].for_each([&](const ValueMultiset::Entry& other) {
        if (residual_holds(s, e.args, e.nulls, other.args, other.nulls)) e.matches += other.count;
      });
    });
}

void JoinOperator::restored() {
  pg::call([&] { table_->for_each([&](Group* g) { recount_matches(g); }); });
  if (!interval_) return;
  table_->for_each([&](Group* g) {
    for (int s = 0; s < 2; s++)
      g->multisets[s].for_each([&](const ValueMultiset::Entry& e) {
        for (int64 c = 0; c < e.count; c++) track_expiry(s, g, row_time(s, e.args));
      });
  });
}

}  // namespace arroyo
