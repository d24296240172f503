#include "operators/updating_aggregate.hpp"

#include "pg/guard.hpp"

namespace arroyo {

UpdatingAggregateOperator::UpdatingAggregateOperator(const UpdatingAggregateNode& node,
                                                     int64 ttl_us, MemoryContext round_memory)
    : num_keys_(node.num_keys),
      out_cols_(node.desc->natts),
      specs_(node.aggregates),
      input_updating_(node.input->updating),
      ttl_us_(ttl_us),
      round_memory_(round_memory),
      out_(node.desc->natts) {
  memory_ = pg::call([&] {
    return AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream updating state",
                                 ALLOCSET_DEFAULT_SIZES);
  });
  scratch_ = pg::call([&] {
    return AllocSetContextCreate(memory_, "arroyo_stream sorted aggregate", ALLOCSET_DEFAULT_SIZES);
  });
  TupleDesc in = node.input->desc;
  for (int i = 0; i < num_keys_; i++)
    key_types_.emplace_back(TupleDescAttr(in, i)->atttypid, TupleDescAttr(in, i)->attcollation);
  for (int c = 0; c < out_cols_; c++) {
    out_len_.push_back(TupleDescAttr(node.desc, c)->attlen);
    out_byval_.push_back(TupleDescAttr(node.desc, c)->attbyval);
  }
  for (const AggregateSpec& spec : specs_) {
    // DISTINCT, ORDER BY and WITHIN GROUP aggregates keep their argument rows and are computed
    // from them, sorted, when the group's row is emitted.
    if (SortedAggregate::needed(spec.aggref)) {
      sorted_.push_back(std::make_unique<SortedAggregate>(spec.aggref));
      aggs_.push_back(std::make_unique<AggregateFunction>(spec.aggref, false));
      recomputed_.push_back(true);
      backed_.push_back(false);
      any_recomputed_ = true;
      arg_types_.push_back(sorted_.back()->row_types());
      continue;
    }
    sorted_.push_back(nullptr);
    // Over an updating input, retractions need an inverse transition function (moving
    // aggregate); without one, the group keeps its input values and recomputes. So does an
    // aggregate whose state cannot be checkpointed (it is rebuilt from them after a restart).
    bool moving = input_updating_ && AggregateFunction::has_moving(spec.aggref->aggfnoid);
    aggs_.push_back(std::make_unique<AggregateFunction>(spec.aggref, moving));
    if (!aggs_.back()->serializable()) {
      if (moving) aggs_.back() = std::make_unique<AggregateFunction>(spec.aggref, false);
      moving = false;
    }
    recomputed_.push_back((input_updating_ && !moving) || !aggs_.back()->serializable());
    // A moving aggregate whose inverse may refuse a row also keeps the rows, to recompute
    // from them when it does.
    backed_.push_back(moving && AggregateFunction::inverse_may_fail(spec.aggref->aggfnoid));
    if (recomputed_.back() || backed_.back()) any_recomputed_ = true;
    std::vector<ValueType> types;
    if (recomputed_.back() || backed_.back())
      for (int a = 0; a < aggs_.back()->num_args(); a++)
        types.push_back(ValueType::of(TupleDescAttr(in, spec.first_arg + a)->atttypid));
    arg_types_.push_back(std::move(types));
  }
  table_ = std::make_unique<GroupTable>(&key_types_, int(aggs_.size()), memory_);
  // The compact state when every aggregate has a native form (the functions above stay, to
  // read checkpoints the generic state wrote).
  bool native = num_keys_ <= NativeGroupTable::kMaxKeys;
  int words = 0;
  for (const AggregateSpec& spec : specs_) {
    NativeAggregate a;
    if (!native || !NativeAggregate::of(spec, &a)) {
      native = false;
      break;
    }
    a.word = words;
    words += a.words();
    native_.push_back(a);
  }
  if (native) {
    ntable_ = std::make_unique<NativeGroupTable>(&key_types_, words, memory_);
    // A group's entry in format 1 (native_encode()): about 10 bytes a key, 3 a state word,
    // 12 more; buckets of kNativeBucketBytes.
    buckets_.configure(kNativeBucketBytes, 12.0 + 10.0 * num_keys_ + 3.0 * words);
  } else {
    native_.clear();
  }
}

UpdatingAggregateOperator::~UpdatingAggregateOperator() {
  table_->for_each([](Group* g) { delete[] g->multisets; });
}

int64 UpdatingAggregateOperator::state_bytes() const {
  return multiset_bytes_ + (ntable_ ? ntable_->slot_bytes() : 0) +
         pg::call([&] { return int64(MemoryContextMemAllocated(memory_, true)); });
}

// Sets up a group just created: initial aggregate states, nothing emitted. Inside pg::call.
void UpdatingAggregateOperator::init_group(Group* g, TimestampTz t) {
  for (size_t j = 0; j < aggs_.size(); j++) aggs_[j]->init(g->states[j], memory_);
  g->rows = 0;
  g->emitted = nullptr;
  g->emitted_nulls = nullptr;
  g->last_seen = t;
  g->multisets = nullptr;
  g->dirty = g->recompute = false;
  if (any_recomputed_) g->multisets = new_value_multisets(aggs_.size(), &multiset_bytes_);
}

// An aggregate without GROUP BY has exactly one row, whatever its input (count(*) = 0 over no
// rows, as the batch query says): its group is created before the first emission, unless a
// checkpoint restored it, and is never forgotten.
void UpdatingAggregateOperator::ensure_global_group() {
  if (ntable_) {
    if (num_keys_ != 0 || !ntable_->empty()) return;
    pg::call([&] {
      bool created;
      NativeGroup* g = ntable_->find_or_create(nullptr, nullptr, &created);
      g->last_seen = watermark_;
      g->set(NativeGroup::kDirty, true);
      ndirty_.push_back(g);
      buckets_.touch(g);
    });
    return;
  }
  if (num_keys_ != 0 || !table_->empty()) return;
  pg::call([&] {
    bool created;
    Group* g = table_->find_or_create(nullptr, nullptr, &created);
    init_group(g, watermark_);
    g->dirty = true;
    dirty_.push_back(g);
    buckets_.touch(g);
  });
}

// Folds one row (or its retraction) into its group. Runs inside pg::call.
void UpdatingAggregateOperator::apply(Group* g, bool created, const Datum* values,
                                      const bool* nulls, RowOp op, TimestampTz t) {
  if (created) init_group(g, t);
  g->rows += op == RowOp::Insert ? 1 : -1;
  if (t > g->last_seen) g->last_seen = t;
  for (size_t j = 0; j < aggs_.size(); j++) {
    const AggregateSpec& spec = specs_[j];
    if (spec.filter_col >= 0 && (nulls[spec.filter_col] || !DatumGetBool(values[spec.filter_col])))
      continue;
    const Datum* args = values + spec.first_arg;
    const bool* arg_nulls = nulls + spec.first_arg;
    if (recomputed_[j]) {
      if (op == RowOp::Insert) {
        g->multisets[j].add(arg_types_[j], args, arg_nulls, memory_);
        if (!g->recompute && !sorted_[j]) aggs_[j]->advance(g->states[j], args, arg_nulls, memory_);
      } else {
        g->multisets[j].remove(arg_types_[j], args, arg_nulls);
        g->recompute = true;
      }
    } else if (op == RowOp::Insert) {
      // (A kept aggregate of a group due for recomputation is rebuilt from its rows then.)
      if (backed_[j]) g->multisets[j].add(arg_types_[j], args, arg_nulls, memory_);
      if (!backed_[j] || !g->recompute) aggs_[j]->advance(g->states[j], args, arg_nulls, memory_);
    } else {
      if (backed_[j]) g->multisets[j].remove(arg_types_[j], args, arg_nulls);
      if ((!backed_[j] || !g->recompute) &&
          !aggs_[j]->retract(g->states[j], args, arg_nulls, memory_)) {
        if (!backed_[j])
          ereport(ERROR,
                  (errcode(ERRCODE_DATA_EXCEPTION), errmsg("aggregate %s could not retract a value",
                                                           get_func_name(spec.aggref->aggfnoid))));
        g->recompute = true;
      }
    }
  }
  if (!g->dirty) {
    g->dirty = true;
    dirty_.push_back(g);
  }
  buckets_.touch(g);
}

void UpdatingAggregateOperator::push(int, Batch& rows) {
  const int n = rows.size();
  if (ntable_) {
    // Hashes first, then the slots' and groups' cache lines requested for the whole batch
    // (see NativeGroupTable::prefetch_slot), then the lookups.
    hashes_.resize(size_t(n));
    pg::call([&] {
      for (int i = 0; i < n; i++) {
        hashes_[i] = ntable_->hash(rows.values(i), rows.nulls(i));
        ntable_->prefetch_slot(hashes_[i]);
      }
      for (int i = 0; i < n; i++) ntable_->prefetch_group(hashes_[i]);
      for (int i = 0; i < n; i++) {
        bool created;
        NativeGroup* g =
            ntable_->find_or_create(hashes_[i], rows.values(i), rows.nulls(i), &created);
        native_apply(g, created, rows.values(i), rows.nulls(i), rows.op(i), rows.time(i));
      }
    });
    return;
  }
  pg::call([&] {
    for (int i = 0; i < n; i++) {
      bool created;
      Group* g = table_->find_or_create(rows.values(i), rows.nulls(i), &created);
      apply(g, created, rows.values(i), rows.nulls(i), rows.op(i), rows.time(i));
    }
  });
}

void UpdatingAggregateOperator::append_row(const Datum* values, const bool* nulls, RowOp op,
                                           TimestampTz t) {
  if (out_.full()) send();
  int row = out_.append(t, op);
  memcpy(out_.values(row), values, sizeof(Datum) * out_cols_);
  memcpy(out_.nulls(row), nulls, sizeof(bool) * out_cols_);
}

// Emits the output batch, then frees the old rows its deletes pointed into.
void UpdatingAggregateOperator::send() {
  emit(out_);
  out_.clear();
  pg::call([&] {
    for (Datum* row : retired_) free_row(row);
  });
  retired_.clear();
}

// Frees a copied output row (runs inside pg::call).
void UpdatingAggregateOperator::free_row(Datum* row) {
  bool* nulls = (bool*)(row + out_cols_);
  for (int c = 0; c < out_cols_; c++)
    if (!nulls[c] && !out_byval_[c]) pfree(DatumGetPointer(row[c]));
  pfree(row);
}

// Emits, for every group changed since the last flush, the retraction of its old row and its
// new row (nothing when the row did not change).
void UpdatingAggregateOperator::emit_changes() {
  std::vector<Group*> dirty;
  dirty.swap(dirty_);
  std::vector<Datum> values(out_cols_);
  std::unique_ptr<bool[]> nulls(new bool[out_cols_]);
  std::vector<Group*> dead;
  for (Group* g : dirty) {
    g->dirty = false;
    buckets_.touch(g);
    bool alive = g->rows > 0 || num_keys_ == 0;
    if (alive) compute_row(g, values.data(), nulls.get());
    bool same = alive && g->emitted;
    for (int c = 0; same && c < out_cols_; c++)
      same = g->emitted_nulls[c] == nulls[c] &&
             (nulls[c] || datumIsEqual(g->emitted[c], values[c], out_byval_[c], out_len_[c]));
    if (same) continue;
    if (g->emitted) {
      append_row(g->emitted, g->emitted_nulls, RowOp::Delete, g->last_seen);
      retired_.push_back(g->emitted);  // freed once the batch holding the delete is sent
      g->emitted = nullptr;
    }
    if (alive) {
      append_row(values.data(), nulls.get(), RowOp::Insert, g->last_seen);
      remember_row(g, values.data(), nulls.get());
    } else {
      dead.push_back(g);
    }
  }
  send();
  for (Group* g : dead) forget(g);
}

// The group's current output row (keys, then aggregate results in round memory).
void UpdatingAggregateOperator::compute_row(Group* g, Datum* values, bool* nulls) {
  MemoryContext old = pg::call([&] { return MemoryContextSwitchTo(round_memory_); });
  for (size_t j = 0; j < aggs_.size(); j++)
    if (sorted_[j])
      values[num_keys_ + j] = sorted_[j]->compute(g->multisets[j], scratch_, &nulls[num_keys_ + j]);
  pg::call([&] {
    if (g->recompute) {
      for (size_t j = 0; j < aggs_.size(); j++) {
        if ((!recomputed_[j] && !backed_[j]) || sorted_[j]) continue;
        aggs_[j]->init(g->states[j], memory_);
        g->multisets[j].for_each([&](const ValueMultiset::Entry& e) {
          for (int64 k = 0; k < e.count; k++)
            aggs_[j]->advance(g->states[j], e.args, e.nulls, memory_);
        });
      }
      g->recompute = false;
    }
    for (int k = 0; k < num_keys_; k++) {
      values[k] = g->keys[k];
      nulls[k] = g->key_nulls[k];
    }
    for (size_t j = 0; j < aggs_.size(); j++)
      if (!sorted_[j])
        values[num_keys_ + j] = aggs_[j]->finish(g->states[j], memory_, &nulls[num_keys_ + j]);
    MemoryContextSwitchTo(old);
  });
}

// Keeps a copy of the row just emitted for a group, to retract it later.
void UpdatingAggregateOperator::remember_row(Group* g, const Datum* values, const bool* nulls) {
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(memory_);
    g->emitted = (Datum*)palloc(sizeof(Datum) * out_cols_ + sizeof(bool) * out_cols_);
    g->emitted_nulls = (bool*)(g->emitted + out_cols_);
    for (int c = 0; c < out_cols_; c++) {
      g->emitted_nulls[c] = nulls[c];
      g->emitted[c] = nulls[c] ? 0 : datumCopy(values[c], out_byval_[c], out_len_[c]);
    }
    MemoryContextSwitchTo(old);
  });
}

// Drops a group's state (its materialized row, if any, stays where it was written).
void UpdatingAggregateOperator::forget(Group* g) {
  buckets_.touch(g);  // its bucket is written again without it
  delete[] g->multisets;
  g->multisets = nullptr;
  pg::call([&] {
    if (g->emitted) free_row(g->emitted);
    table_->erase(g);
  });
}

// Forgets groups no event has touched for the TTL, measured against the watermark. Sweeps the
// table when the watermark has moved a tenth of the TTL since the last sweep.
void UpdatingAggregateOperator::evict_expired() {
  if (ttl_us_ <= 0 || watermark_ == DT_NOBEGIN || watermark_ == DT_NOEND || num_keys_ == 0) return;
  if (last_sweep_ != DT_NOBEGIN && watermark_ - last_sweep_ < ttl_us_ / 10) return;
  last_sweep_ = watermark_;
  std::vector<Group*> expired;
  table_->for_each([&](Group* g) {
    if (!g->dirty && g->last_seen < watermark_ - ttl_us_) expired.push_back(g);
  });
  for (Group* g : expired) forget(g);
}

void UpdatingAggregateOperator::watermark(TimestampTz wm) {
  if (wm > watermark_) watermark_ = wm;
  emit_watermark(wm);
}

void UpdatingAggregateOperator::flush() {
  ensure_global_group();
  if (ntable_) {
    native_emit_changes();
    native_evict_expired();
    return;
  }
  emit_changes();
  evict_expired();
}

void UpdatingAggregateOperator::end() {
  ensure_global_group();
  if (ntable_)
    native_emit_changes();
  else
    emit_changes();
  emit_end();
}

}  // namespace arroyo
