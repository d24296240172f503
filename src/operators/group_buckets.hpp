// Checkpointing the groups of a GroupTable in buckets: instead of one state entry per group
// (one heap row and one entry of the state table's four-column primary key each), groups are
// spread by their hash over a power-of-two number of buckets, and each bucket is one entry
// holding its groups serialized one after the other (about 1 KiB, below the size at which
// PostgreSQL would try to compress or move the value out of line). A checkpoint rewrites the
// buckets that hold a group changed or forgotten since the last one.
//
// The bucket count follows the state's size: when a bucket would average more than 2 KiB (or
// less than 256 bytes), the next checkpoint rewrites every group into a new generation of
// buckets and deletes the old one at once. The generation is the entries' part (the bucket
// count, >= 1); the key is the bucket's number. Part 0 holds entries of one group each, as
// checkpoints before buckets wrote them: they are read, and replaced by buckets at the next
// checkpoint.
//
// A bucket's value is its group count, then each group's key and value (byte strings). An
// operator may write its groups' values in another format than before: write() then puts the
// format's number, negated, before the count (-1: format 1), and restore() hands it to the
// decoding function (0: no number, as before; legacy entries are format 0 too). In a bucket
// with a format number, the groups' key and value lengths are variable-length integers.
#pragma once

#include "operators/group_checkpoint.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace arroyo {

class GroupBuckets {
 public:
  static constexpr int64 kLegacyPart = 0;  // one group per entry (older checkpoints)

  // Records that a group changed (or is about to be forgotten): its bucket is rewritten at the
  // next checkpoint. Cheap enough to call for every row.
  template <typename G>
  void touch(const G* g) {
    if (count_ == 0) return;  // the next checkpoint writes everything anyway
    mark(g->hash & (count_ - 1));
  }

  // Sets the bucket size wanted (bytes) and the expected size of a group's entry until one is
  // written or read (default: 1 KiB and 128 bytes).
  void configure(double target_bytes, double group_bytes) {
    target_bytes_ = target_bytes;
    group_bytes_ = group_bytes;
  }

  // Rescaling: restore() then reads entries of several old workers (buckets of any
  // generation, numbers repeated), keeps only the groups `keep` keeps, and the next write()
  // writes every group into a new generation (the old entries are deleted by the runtime).
  void begin_rescale(const KeyGroupFilter& keep) {
    rescale_ = true;
    keep_ = keep;
  }

  // Whether `part` is one of this scheme's (a bucket generation or the legacy groups).
  static bool owns(int64 part) { return part >= 0; }

  // Takes back one entry write() stored (or a legacy one-group entry): creates its groups in
  // `table` through restore_group_bytes(), decode_value(group, decoder, format) reading each
  // group's value. `what` names the operator in errors. Calls restored(group) for every group
  // created.
  template <typename Table, typename DecodeValue, typename Restored>
  void restore(Table& table, const StateEntry& e, MemoryContext scratch, const std::string& what,
               DecodeValue&& decode_value, Restored&& restored) {
    int64 format = 0;
    auto decode = [&](auto* g, StateDecoder& in) { decode_value(g, in, format); };
    const KeyGroupFilter* keep = rescale_ ? &keep_ : nullptr;
    if (e.part == kLegacyPart) {
      legacy_ = !rescale_;
      auto* g = restore_group_bytes(table, e.key.data(), e.key.size(), e.value.data(),
                                    e.value.size(), scratch, what, decode, keep);
      if (g) restored(g);
      return;
    }
    uint64 gen = uint64(e.part);
    StateDecoder key(e.key.data(), e.key.size(), "a bucket key of " + what);
    int64 b = key.get_int();
    key.expect_end();
    if ((gen & (gen - 1)) != 0 || gen > kMaxBuckets || b < 0 || uint64(b) >= gen ||
        (!rescale_ && count_ != 0 && count_ != gen))
      key.corrupt("bucket " + std::to_string(b) + " of " + std::to_string(gen) +
                  " does not fit the other buckets");
    if (!rescale_) {
      if (count_ == 0) resize(gen);
      if (stored_[b]) key.corrupt("the bucket appears twice");
      stored_[b] = 1;
      any_stored_ = true;
      tids_[b] = e.tid;
    }
    StateDecoder in(e.value.data(), e.value.size(), "a bucket of " + what);
    int64 n = in.get_int();
    if (n < 0) {
      format = -n;
      n = in.get_int();
    }
    if (n < 0 || uint64(n) > e.value.size()) in.corrupt("its group count is wrong");
    for (int64 i = 0; i < n; i++) {
      auto [kp, kn] = format > 0 ? in.get_short_bytes() : in.get_bytes();
      auto [vp, vn] = format > 0 ? in.get_short_bytes() : in.get_bytes();
      auto* g = restore_group_bytes(table, kp, kn, vp, vn, scratch, what, decode, keep);
      if (!g) continue;
      // A group hashed elsewhere than the bucket that held it (its type's hash function
      // changed): both buckets are rewritten, so it ends up in one.
      if (!rescale_ && (g->hash & (gen - 1)) != uint64(b)) {
        mark(uint64(b));
        mark(g->hash & (gen - 1));
      }
      restored(g);
    }
    in.expect_end();
    // The groups' average encoded size, for wanted_count() at the next checkpoint.
    restored_bytes_ += e.value.size();
    restored_groups_ += size_t(n);
    if (restored_groups_ > 0) group_bytes_ = double(restored_bytes_) / double(restored_groups_);
  }

  // Writes the buckets holding changed groups into `w` (every group, into a new generation of
  // buckets, when the bucket count no longer suits the state's size, or legacy entries are to
  // be replaced). encode_value(group, encoder) writes a group's value, inside pg::call; what it
  // allocates goes into `scratch`, reset after each group. `format` (> 0) is written into each
  // bucket for restore() (0: none).
  template <typename Table, typename EncodeValue>
  void write(StateWriter& w, Table& table, MemoryContext scratch, EncodeValue&& encode_value,
             int64 format = 0) {
    rescale_ = false;
    uint64 want = wanted_count(table.size());
    bool all = legacy_ || count_ == 0 || want != count_;
    if (all) {
      if (legacy_) w.remove_part(kLegacyPart);
      if (count_ != 0 && any_stored_) w.remove_part(int64(count_));
      legacy_ = false;
      resize(want);
      if (table.empty()) return;
    } else if (dirty_list_.empty()) {
      return;
    }
    // The groups of each bucket to write, ordered by bucket (counting sort).
    const uint64 mask = count_ - 1;
    std::vector<uint32> start(count_ + 1, 0);
    size_t n = 0;
    table.for_each([&](auto* g) {
      uint64 b = g->hash & mask;
      if (all || dirty_[b]) {
        start[b + 1]++;
        n++;
      }
    });
    for (uint64 b = 0; b < count_; b++) start[b + 1] += start[b];
    using G = std::remove_pointer_t<decltype(table.find_or_create(nullptr, nullptr, nullptr))>;
    std::vector<G*> order(n);
    {
      std::vector<uint32> next(start.begin(), start.end() - 1);
      table.for_each([&](G* g) {
        uint64 b = g->hash & mask;
        if (all || dirty_[b]) order[next[b]++] = g;
      });
    }
    StateEncoder key, value, group_key, group_value;
    size_t bytes = 0, groups = 0;
    auto write_bucket = [&](uint64 b) {
      uint32 first = start[b], last = start[b + 1];
      key.clear();
      key.put_int(int64(b));
      if (first == last) {
        if (stored_[b]) w.remove(int64(count_), key.bytes());
        stored_[b] = 0;
        return;
      }
      value.clear();
      if (format > 0) value.put_int(-format);
      value.put_int(int64(last - first));
      for (uint32 i = first; i < last; i++) {
        G* g = order[i];
        // The groups are scattered in memory: asking for the next ones early overlaps their
        // cache misses.
        if (i + 8 < n) __builtin_prefetch(order[i + 8]);
        group_key.clear();
        group_value.clear();
        pg::call([&] {
          MemoryContext old = MemoryContextSwitchTo(scratch);
          table.encode_keys(g, group_key);
          encode_value(g, group_value);
          MemoryContextSwitchTo(old);
          MemoryContextReset(scratch);
        });
        if (format > 0) {  // lengths as variable-length integers
          value.put_short_bytes(group_key.bytes().data(), group_key.size());
          value.put_short_bytes(group_value.bytes().data(), group_value.size());
        } else {
          value.put_string(group_key.bytes());
          value.put_string(group_value.bytes());
        }
      }
      bytes += value.size();
      groups += last - first;
      if (stored_[b])
        w.put(int64(count_), key.bytes(), value.bytes(), &tids_[b]);
      else
        w.insert(int64(count_), key.bytes(), value.bytes(), &tids_[b]);
      stored_[b] = 1;
      any_stored_ = true;
    };
    // In the order of the entries' keys in the state table's primary key (a key is the bucket
    // number's 8 bytes, low byte first, compared as bytea): each index insert lands next to
    // the one before, on a leaf page already in cache, instead of anywhere in the index.
    auto key_order = [](uint64 a, uint64 b) { return __builtin_bswap64(a) < __builtin_bswap64(b); };
    if (all) {
      std::vector<uint64> buckets(count_);
      for (uint64 b = 0; b < count_; b++) buckets[b] = b;
      std::sort(buckets.begin(), buckets.end(), key_order);
      for (uint64 b : buckets) write_bucket(b);
    } else {
      std::sort(dirty_list_.begin(), dirty_list_.end(), key_order);
      for (uint32 b : dirty_list_) write_bucket(b);
    }
    for (uint32 b : dirty_list_) dirty_[b] = 0;
    dirty_list_.clear();
    if (groups > 0) group_bytes_ = double(bytes) / double(groups);
  }

 private:
  static constexpr uint64 kMaxBuckets = uint64(1) << 24;
  // Bucket sizes: target_bytes_ when a new generation is made, kept while buckets average
  // between a quarter and twice that.
  double target_bytes_ = 1024;

  void mark(uint64 b) {
    if (dirty_[b]) return;
    dirty_[b] = 1;
    dirty_list_.push_back(uint32(b));
  }

  // The bucket count for `groups` groups: the current one while buckets average between a
  // quarter and twice target_bytes_, else the power of two nearest target_bytes_ per bucket.
  uint64 wanted_count(size_t groups) const {
    double total = double(groups) * group_bytes_;
    if (count_ != 0) {
      double per = total / double(count_);
      if ((per <= 2 * target_bytes_ || count_ == kMaxBuckets) &&
          (per >= target_bytes_ / 4 || count_ == 1))
        return count_;
    }
    uint64 c = 1;
    while (c < kMaxBuckets && double(c) * target_bytes_ < total) c <<= 1;
    return c;
  }

  void resize(uint64 count) {
    count_ = count;
    dirty_.assign(count, 0);
    stored_.assign(count, 0);
    tids_.assign(count, ItemPointerData());
    for (ItemPointerData& t : tids_) ItemPointerSetInvalid(&t);
    dirty_list_.clear();
    any_stored_ = false;
  }

  uint64 count_ = 0;  // buckets (a power of two); 0: none written or read yet
  std::vector<uint8> dirty_, stored_;
  std::vector<uint32> dirty_list_;
  std::vector<ItemPointerData> tids_;  // where each bucket's entry was last written (a hint)
  bool any_stored_ = false;
  bool legacy_ = false;       // entries of one group each were read: replace them
  double group_bytes_ = 128;  // average encoded size of a group, from the last write
  bool rescale_ = false;      // restoring the entries of another number of workers
  KeyGroupFilter keep_;
  size_t restored_bytes_ = 0, restored_groups_ = 0;
};

}  // namespace arroyo
