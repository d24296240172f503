#include "operators/lookup_join.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "utils/array.h"
}

#include <cstring>

namespace arroyo {

namespace {

// The executor's destination for the lookup query's rows: hands each to the operator.
struct Receiver {
  DestReceiver pub;
  LookupJoinOperator* op;
};

bool receive_slot(TupleTableSlot* slot, DestReceiver* self) {
  ((Receiver*)self)->op->receive(slot);
  return true;
}
void receiver_startup(DestReceiver*, int, TupleDesc) {}
void receiver_shutdown(DestReceiver*) {}
void receiver_destroy(DestReceiver*) {}

}  // namespace

LookupJoinOperator::LookupJoinOperator(const LookupJoinNode& node, const PipelineSettings& settings,
                                       MemoryContext row_memory)
    : node_(node),
      in_cols_(node.input->desc->natts),
      sub_cols_(node.subquery_desc->natts),
      row_memory_(row_memory),
      out_(node.desc->natts) {
  for (int c = 0; c < sub_cols_; c++) {
    sub_len_.push_back(TupleDescAttr(node.subquery_desc, c)->attlen);
    sub_byval_.push_back(TupleDescAttr(node.subquery_desc, c)->attbyval);
  }
  nparams_ = int(node.param_columns.size());
  pg::call([&] {
    ListCell* lc;
    foreach (lc, node.param_exprs) {
      Oid type = exprType((Node*)lfirst(lc));
      int16 len;
      bool byval;
      char align;
      get_typlenbyvalalign(type, &len, &byval, &align);
      key_len_.push_back(len);
      key_byval_.push_back(byval);
      key_align_.push_back(align);
      key_type_.push_back(type);
    }
  });
  computed_ = false;
  for (int c : node.param_columns) computed_ = computed_ || c < 0;
  if (computed_)
    pg::call([&] {
      econtext_ = CreateStandaloneExprContext();
      // Values must live until the batch has been looked up and emitted.
      econtext_->ecxt_per_tuple_memory = row_memory;
      in_slot_ = MakeSingleTupleTableSlot(node.input->desc, &TTSOpsVirtual);
      econtext_->ecxt_scantuple = in_slot_;
      ListCell* lc;
      foreach (lc, node.param_exprs) {
        param_states_.push_back(node.param_columns[foreach_current_index(lc)] < 0
                                    ? ExecInitExpr((Expr*)lfirst(lc), nullptr)
                                    : nullptr);
      }
    });
  if (OidIsValid(node.lookup_table)) {
    table_ = node.lookup_connector->make_lookup(node.lookup_spec);
    pg::call([&] {
      Oid function;
      bool varlena;
      getTypeOutputInfo(key_type_[0], &function, &varlena);
      fmgr_info_cxt(function, &key_output_, CurrentMemoryContext);
    });
  }
  if (node.cacheable && settings.lookup_cache_ttl_us > 0) {
    ttl_us_ = settings.lookup_cache_ttl_us;
    max_rows_ = settings.lookup_cache_max_rows;
  }
  pg::call([&] {
    plan_memory_ = AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream lookup plan",
                                         ALLOCSET_DEFAULT_SIZES);
    batch_memory_ = AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream lookup batch",
                                          ALLOCSET_DEFAULT_SIZES);
    if (ttl_us_ > 0)
      cache_memory_ = AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream lookup cache",
                                            ALLOCSET_DEFAULT_SIZES);
    Receiver* r = (Receiver*)MemoryContextAllocZero(plan_memory_->parent, sizeof(Receiver));
    r->pub.receiveSlot = receive_slot;
    r->pub.rStartup = receiver_startup;
    r->pub.rShutdown = receiver_shutdown;
    r->pub.rDestroy = receiver_destroy;
    r->pub.mydest = DestNone;
    r->op = this;
    receiver_ = &r->pub;
  });
}

LookupJoinOperator::~LookupJoinOperator() {
  try {
    pg::call([&] {
      MemoryContextDelete(plan_memory_);
      MemoryContextDelete(batch_memory_);
      if (cache_memory_) MemoryContextDelete(cache_memory_);
      pfree(receiver_);
      if (in_slot_) ExecDropSingleTupleTableSlot(in_slot_);
      if (econtext_) FreeExprContext(econtext_, true);
    });
  } catch (...) {
  }
}

// Plans again in each transaction: the plan's relations stay locked until it ends, so neither
// a dropped index nor an altered table can invalidate it meanwhile.
void LookupJoinOperator::begin_transaction() { plan_ = nullptr; }

void LookupJoinOperator::plan() {
  plan_ = pg::call([&] {
    MemoryContextReset(plan_memory_);
    MemoryContext old = MemoryContextSwitchTo(plan_memory_);
    PlannedStmt* stmt =
        pg_plan_query((Query*)copyObjectImpl(node_.lookup), "lookup join", 0, nullptr);
    MemoryContextSwitchTo(old);
    return stmt;
  });
}

void LookupJoinOperator::parameters(Batch& rows) {
  const int n = rows.size();
  pv_.resize(size_t(n) * nparams_);
  pn_.resize(size_t(n) * nparams_);
  for (int i = 0; i < n; i++)
    for (int p = 0; p < nparams_; p++) {
      int c = node_.param_columns[p];
      if (c < 0) continue;
      pv_[size_t(i) * nparams_ + p] = rows.values(i)[c];
      pn_[size_t(i) * nparams_ + p] = rows.nulls(i)[c];
    }
  if (!computed_) return;
  pg::call([&] {
    // The slot reads the batch's rows in place (its own arrays are put back after).
    Datum* in_values = in_slot_->tts_values;
    bool* in_nulls = in_slot_->tts_isnull;
    for (int i = 0; i < n; i++) {
      ExecClearTuple(in_slot_);
      in_slot_->tts_values = rows.values(i);
      in_slot_->tts_isnull = rows.nulls(i);
      ExecStoreVirtualTuple(in_slot_);
      current_row_time = rows.time(i);
      current_row_time_valid = true;
      for (int p = 0; p < nparams_; p++) {
        if (!param_states_[p]) continue;
        bool isnull;
        pv_[size_t(i) * nparams_ + p] = ExecEvalExpr(param_states_[p], econtext_, &isnull);
        pn_[size_t(i) * nparams_ + p] = isnull;
      }
    }
    ExecClearTuple(in_slot_);
    in_slot_->tts_values = in_values;
    in_slot_->tts_isnull = in_nulls;
    current_row_time_valid = false;
  });
}

void LookupJoinOperator::distinct_keys(const Batch& rows) {
  const int n = rows.size();
  key_of_row_.resize(n);
  key_rows_.clear();
  key_bytes_.clear();
  key_index_.clear();
  std::string key;
  for (int i = 0; i < n; i++) {
    key.clear();
    const Datum* values = pv_.data() + size_t(i) * nparams_;
    const char* nulls = pn_.data() + size_t(i) * nparams_;
    for (int p = 0; p < nparams_; p++) {
      if (nulls[p]) {
        key.push_back('\0');
        continue;
      }
      key.push_back('\1');
      Datum d = values[p];
      if (key_byval_[p]) {
        key.append((const char*)&d, sizeof(Datum));
      } else if (key_len_[p] > 0) {
        key.append(DatumGetPointer(d), key_len_[p]);
      } else if (key_len_[p] == -2) {
        key.append(DatumGetCString(d));
        key.push_back('\0');
      } else {
        // Equal keys found as different bytes (compressed or not) are only probed twice.
        struct varlena* v = (struct varlena*)DatumGetPointer(d);
        if (VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v))
          v = pg::call([&] {
            MemoryContext old = MemoryContextSwitchTo(row_memory_);
            struct varlena* flat = pg_detoast_datum_packed(v);
            MemoryContextSwitchTo(old);
            return flat;
          });
        uint32 len = VARSIZE_ANY_EXHDR(v);
        key.append((const char*)&len, sizeof(len));
        key.append(VARDATA_ANY(v), len);
      }
    }
    auto [it, added] = key_index_.emplace(key, int(key_rows_.size()));
    if (added) {
      key_rows_.push_back(i);
      key_bytes_.push_back(key);
    }
    key_of_row_[i] = it->second;
  }
}

void LookupJoinOperator::receive(TupleTableSlot* slot) {
  slot_getallattrs(slot);
  int64 ordinality = DatumGetInt64(slot->tts_values[0]);
  res_key_.push_back(int(ordinality - 1));
  MemoryContext old = MemoryContextSwitchTo(row_memory_);
  for (int c = 0; c < sub_cols_; c++) {
    bool isnull = slot->tts_isnull[c + 1];
    Datum d = slot->tts_values[c + 1];
    if (!isnull && !sub_byval_[c]) d = datumCopy(d, false, sub_len_[c]);
    res_values_.push_back(isnull ? Datum(0) : d);
    res_nulls_.push_back(isnull);
  }
  MemoryContextSwitchTo(old);
}

void LookupJoinOperator::run_table_lookup(const std::vector<int>& probe) {
  table_keys_.clear();
  table_key_probe_.clear();
  pg::call([&] {
    MemoryContextReset(batch_memory_);
    MemoryContext old = MemoryContextSwitchTo(batch_memory_);
    for (size_t k = 0; k < probe.size(); k++) {
      size_t at = size_t(key_rows_[probe[k]]) * nparams_;
      if (pn_[at]) continue;  // NULL = anything is never true
      table_keys_.emplace_back(OutputFunctionCall(&key_output_, pv_[at]));
      table_key_probe_.push_back(int(k));
    }
    MemoryContextSwitchTo(old);
  });
  if (table_keys_.empty()) return;
  Batch rows(node_.lookup_spec.natts, int(table_keys_.size()));
  row_of_key_.assign(table_keys_.size(), -1);
  // The rows' values live as long as the output rows (row_memory_).
  MemoryContext old = MemoryContextSwitchTo(row_memory_);
  try {
    table_->lookup(table_keys_, rows, row_of_key_);
  } catch (...) {
    MemoryContextSwitchTo(old);
    throw;
  }
  MemoryContextSwitchTo(old);
  for (size_t i = 0; i < table_keys_.size(); i++) {
    int row = i < row_of_key_.size() ? row_of_key_[i] : -1;
    if (row < 0) continue;
    res_key_.push_back(table_key_probe_[i]);
    for (int col : node_.lookup_columns) {
      res_values_.push_back(rows.nulls(row)[col] ? Datum(0) : rows.values(row)[col]);
      res_nulls_.push_back(rows.nulls(row)[col]);
    }
  }
}

void LookupJoinOperator::run_lookup(const std::vector<int>& probe) {
  res_values_.clear();
  res_nulls_.clear();
  res_key_.clear();
  if (probe.empty()) return;
  const int nparams = nparams_;
  const int nkeys = int(probe.size());
  if (!table_ && !plan_) plan();
  if (table_) {
    run_table_lookup(probe);
  } else
    pg::call([&] {
      MemoryContextReset(batch_memory_);
      MemoryContext old = MemoryContextSwitchTo(batch_memory_);
      ParamListInfo params = makeParamList(nparams);
      Datum* elems = (Datum*)palloc(sizeof(Datum) * nkeys);
      bool* nulls = (bool*)palloc(sizeof(bool) * nkeys);
      int dims[1] = {nkeys}, lbs[1] = {1};
      for (int p = 0; p < nparams; p++) {
        for (int k = 0; k < nkeys; k++) {
          size_t at = size_t(key_rows_[probe[k]]) * nparams + p;
          elems[k] = pv_[at];
          nulls[k] = pn_[at];
        }
        ArrayType* array = construct_md_array(elems, nulls, 1, dims, lbs, key_type_[p], key_len_[p],
                                              key_byval_[p], key_align_[p]);
        params->params[p].value = PointerGetDatum(array);
        params->params[p].isnull = false;
        params->params[p].pflags = PARAM_FLAG_CONST;
        params->params[p].ptype = node_.param_array_types[p];
      }
      // Each batch sees the rows committed before it (READ COMMITTED: a fresh snapshot).
      PushActiveSnapshot(GetTransactionSnapshot());
      QueryDesc* qd = CreateQueryDesc(plan_, "lookup join", GetActiveSnapshot(), InvalidSnapshot,
                                      receiver_, params, nullptr, 0);
      ExecutorStart(qd, 0);
      ExecutorRun(qd, ForwardScanDirection, 0, true);
      ExecutorFinish(qd);
      ExecutorEnd(qd);
      FreeQueryDesc(qd);
      PopActiveSnapshot();
      MemoryContextSwitchTo(old);
    });
  // The result rows of each probed key, in the order they came.
  const int nres = int(res_key_.size());
  for (int r = 0; r < nres; r++) {
    int k = res_key_[r];
    if (k < 0 || k >= nkeys)
      pg::fail(ERRCODE_INTERNAL_ERROR, "lookup join: a result row of an unknown key");
    res_key_[r] = probe[k];
    found_[probe[k]].count++;
  }
  std::vector<int> next(found_.size(), 0);
  int first = 0;
  for (int k : probe) {
    found_[k].first = first;
    next[k] = first;
    first += found_[k].count;
  }
  sorted_.resize(nres);
  for (int r = 0; r < nres; r++) sorted_[next[res_key_[r]]++] = r;
}

void LookupJoinOperator::cache_store(int key) {
  const Found& f = found_[key];
  CacheEntry entry;
  entry.fetched = GetCurrentTimestamp();
  entry.count = f.count;
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(cache_memory_);
    for (int r = 0; r < f.count; r++) {
      int row = sorted_[f.first + r];
      for (int c = 0; c < sub_cols_; c++) {
        bool isnull = res_nulls_[size_t(row) * sub_cols_ + c];
        Datum d = res_values_[size_t(row) * sub_cols_ + c];
        if (!isnull && !sub_byval_[c]) {
          d = datumCopy(d, false, sub_len_[c]);
          cache_bytes_ += int64(GetMemoryChunkSpace(DatumGetPointer(d)));
        }
        entry.values.push_back(d);
        entry.nulls.push_back(isnull);
      }
    }
    MemoryContextSwitchTo(old);
  });
  cache_rows_ += std::max(1, f.count);
  cache_bytes_ += int64(entry.values.size() * (sizeof(Datum) + 1));
  cache_order_.emplace_back(key_bytes_[key], entry.fetched);
  cache_[key_bytes_[key]] = std::move(entry);
}

void LookupJoinOperator::cache_evict() {
  while (!cache_order_.empty()) {
    TimestampTz now = GetCurrentTimestamp();
    auto& [key, fetched] = cache_order_.front();
    auto it = cache_.find(key);
    bool stale = it == cache_.end() || it->second.fetched != fetched;
    bool expired = now - fetched >= ttl_us_;
    bool over = max_rows_ > 0 && cache_rows_ > max_rows_;
    if (!stale && !expired && !over) return;
    if (!stale) {
      CacheEntry& e = it->second;
      int rows = e.count;
      pg::call([&] {
        for (size_t i = 0; i < e.values.size(); i++) {
          int c = int(i % sub_cols_);
          if (!e.nulls[i] && !sub_byval_[c]) {
            cache_bytes_ -= int64(GetMemoryChunkSpace(DatumGetPointer(e.values[i])));
            pfree(DatumGetPointer(e.values[i]));
          }
        }
      });
      cache_rows_ -= std::max(1, rows);
      cache_bytes_ -= int64(e.values.size() * (sizeof(Datum) + 1));
      cache_.erase(it);
    }
    cache_order_.pop_front();
  }
}

void LookupJoinOperator::push(int, Batch& rows) {
  if (rows.empty()) return;
  parameters(rows);
  distinct_keys(rows);
  const int nkeys = int(key_rows_.size());
  found_.assign(nkeys, Found{});
  cached_.assign(nkeys, nullptr);
  std::vector<int> probe;
  probe.reserve(nkeys);
  if (ttl_us_ > 0) {
    cache_evict();
    for (int k = 0; k < nkeys; k++) {
      auto it = cache_.find(key_bytes_[k]);
      if (it == cache_.end()) {
        probe.push_back(k);
        continue;
      }
      cached_[k] = &it->second;
      found_[k].count = it->second.count;
    }
  } else {
    for (int k = 0; k < nkeys; k++) probe.push_back(k);
  }
  run_lookup(probe);
  emit_rows(rows);
  if (ttl_us_ > 0) {
    for (int k : probe) cache_store(k);
    cache_evict();
  }
}

void LookupJoinOperator::emit_rows(const Batch& rows) {
  const int n = rows.size();
  for (int i = 0; i < n; i++) {
    int k = key_of_row_[i];
    const Found& f = found_[k];
    if (f.count == 0 && !node_.left) continue;
    for (int r = 0; r < std::max(1, f.count); r++) {
      if (out_.full()) {
        emit(out_);
        out_.clear();
      }
      int row = out_.append(rows.time(i), rows.op(i));
      if (rows.has_splits()) out_.set_split(row, rows.split(i));
      Datum* values = out_.values(row);
      bool* nulls = out_.nulls(row);
      memcpy(values, rows.values(i), sizeof(Datum) * in_cols_);
      memcpy(nulls, rows.nulls(i), sizeof(bool) * in_cols_);
      if (f.count == 0) continue;  // LEFT: NULL-padded
      for (int c = 0; c < sub_cols_; c++) {
        size_t at;
        if (const CacheEntry* e = cached_[k]) {
          at = size_t(r) * sub_cols_ + c;
          values[in_cols_ + c] = e->values[at];
          nulls[in_cols_ + c] = e->nulls[at];
        } else {
          at = size_t(sorted_[f.first + r]) * sub_cols_ + c;
          values[in_cols_ + c] = res_values_[at];
          nulls[in_cols_ + c] = res_nulls_[at];
        }
      }
    }
  }
  emit(out_);
  out_.clear();
}

}  // namespace arroyo
