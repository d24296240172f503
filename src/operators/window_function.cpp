#include "operators/window_function.hpp"

#include "operators/group_checkpoint.hpp"
#include "pg/guard.hpp"

#include <algorithm>

extern "C" {
#include "executor/executor.h"
#include "executor/tstoreReceiver.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/queryenvironment.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
}

namespace arroyo {

namespace {
constexpr int64 kMetaPart = PG_INT64_MIN;  // the watermark
constexpr int64 kKeyPart = 0;
constexpr const char* kRelationName = "arroyo_window_rows";

// The input's layout plus the event time and the emit flag: the relation the query reads.
TupleDesc enr_desc_of(TupleDesc input) {
  TupleDesc d = CreateTemplateTupleDesc(input->natts + 2);
  for (int c = 0; c < input->natts; c++) {
    Form_pg_attribute att = TupleDescAttr(input, c);
    TupleDescInitEntry(d, c + 1, NameStr(att->attname), att->attisdropped ? INT4OID : att->atttypid,
                       att->attisdropped ? -1 : att->atttypmod, 0);
    TupleDescInitEntryCollation(d, c + 1, att->attisdropped ? InvalidOid : att->attcollation);
  }
  TupleDescInitEntry(d, input->natts + 1, "arroyo_time", TIMESTAMPTZOID, -1, 0);
  TupleDescInitEntry(d, input->natts + 2, "arroyo_emit", BOOLOID, -1, 0);
  return d;
}

// The node's output layout plus the event time and the emit flag: what the query produces.
TupleDesc result_desc_of(TupleDesc out) {
  TupleDesc d = CreateTemplateTupleDesc(out->natts + 2);
  for (int c = 0; c < out->natts; c++) TupleDescCopyEntry(d, c + 1, out, c + 1);
  TupleDescInitEntry(d, out->natts + 1, "arroyo_time", TIMESTAMPTZOID, -1, 0);
  TupleDescInitEntry(d, out->natts + 2, "arroyo_emit", BOOLOID, -1, 0);
  return d;
}
}  // namespace

WindowFunctionOperator::WindowFunctionOperator(const WindowFunctionNode& node, EngineStats& stats,
                                               MemoryContext round_memory)
    : in_cols_(node.input->desc->natts),
      out_cols_(node.desc->natts),
      per_key_(node.per_key),
      lookback_rows_(node.lookback_rows),
      lookahead_rows_(node.lookahead_rows),
      lookback_us_(node.lookback_us),
      keep_first_(node.keep_first),
      partition_cols_(node.partition_cols),
      layout_(node.input->desc),
      stats_(stats),
      round_memory_(round_memory),
      out_(node.desc->natts) {
  for (int c : partition_cols_)
    key_types_.emplace_back(TupleDescAttr(node.input->desc, c)->atttypid,
                            TupleDescAttr(node.input->desc, c)->attcollation);
  pg::call([&] {
    memory_ = AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream window functions",
                                    ALLOCSET_DEFAULT_SIZES);
    eval_memory_ =
        AllocSetContextCreate(memory_, "arroyo_stream window evaluation", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(memory_);
    // Planned by PostgreSQL once; every evaluation runs the same plan over new rows.
    stmt_ = pg_plan_query((Query*)copyObjectImpl(node.query), "arroyo_stream window functions", 0,
                          nullptr);
    enr_desc_ = enr_desc_of(node.input->desc);
    result_desc_ = result_desc_of(node.desc);
    result_slot_ = MakeSingleTupleTableSlot(result_desc_, &TTSOpsMinimalTuple);
    MemoryContextSwitchTo(old);
  });
  keys_ = std::make_unique<GroupTable>(&key_types_, 0, memory_);
}

WindowFunctionOperator::~WindowFunctionOperator() = default;

int64 WindowFunctionOperator::state_bytes() const {
  return pg::call([&] { return int64(MemoryContextMemAllocated(memory_, true)); });
}

void WindowFunctionOperator::push(int, Batch& rows) {
  int nk = int(partition_cols_.size());
  std::vector<Datum> key(nk + 1);
  std::unique_ptr<bool[]> key_nulls(new bool[nk + 1]);
  for (int i = 0; i < rows.size(); i++) {
    TimestampTz t = rows.time(i);
    if (t < watermark_) {
      stats_.late_rows++;
      continue;
    }
    for (int k = 0; k < nk; k++) {
      key[k] = rows.values(i)[partition_cols_[k]];
      key_nulls[k] = rows.nulls(i)[partition_cols_[k]];
    }
    Group* g = nullptr;
    StoredRow row;
    pg::call([&] {
      bool created;
      g = keys_->find_or_create(key.data(), key_nulls.get(), &created);
      MemoryContext old = MemoryContextSwitchTo(memory_);
      row = layout_.copy(rows.values(i), rows.nulls(i), t);
      MemoryContextSwitchTo(old);
    });
    KeyRows& k = rows_[g];
    if (!k.active) {
      k.active = true;
      active_.push_back(g);
    }
    std::vector<StoredRow>& pending = k.pending;
    // By event time; rows of equal time stay in arrival order.
    auto at = std::upper_bound(pending.begin(), pending.end(), t,
                               [](TimestampTz v, const StoredRow& r) { return v < r.time; });
    pending.insert(at, row);
    unsaved_.mark(g);
  }
}

void WindowFunctionOperator::watermark(TimestampTz wm) {
  if (wm <= watermark_) return;
  watermark_ = wm;
  release(wm, false);
}

void WindowFunctionOperator::end() {
  watermark_ = DT_NOEND;
  release(DT_NOEND, true);
  emit_end();
}

// Evaluates and emits every row the watermark decides, then forwards the watermark, held back
// before the earliest row still waiting (for lead()'s later rows).
void WindowFunctionOperator::release(TimestampTz wm, bool final) {
  std::vector<Group*> ready;
  TimestampTz waiting = DT_NOEND;
  std::vector<Group*> still;
  for (Group* g : active_) {
    KeyRows& k = rows_[g];
    size_t n = 0;
    while (n < k.pending.size() && (final || k.pending[n].time < wm)) n++;
    k.release = final ? n : n > size_t(lookahead_rows_) ? n - lookahead_rows_ : 0;
    if (k.release > 0) ready.push_back(g);
    if (k.release < k.pending.size()) {
      waiting = std::min(waiting, k.pending[k.release].time);
      still.push_back(g);
    } else {
      k.active = false;
    }
  }
  active_ = std::move(still);
  if (!ready.empty()) evaluate(ready);
  for (Group* g : ready) {
    KeyRows& k = rows_[g];
    k.history.insert(k.history.end(), k.pending.begin(), k.pending.begin() + k.release);
    k.pending.erase(k.pending.begin(), k.pending.begin() + k.release);
    k.release = 0;
    prune(k, wm);
    unsaved_.mark(g);
    forget_if_empty(g);
  }
  TimestampTz out_wm = final ? DT_NOEND : std::min(wm, waiting);
  if (out_wm > emitted_watermark_) {
    emitted_watermark_ = out_wm;
    if (!final) emit_watermark(out_wm);
  }
}

// Frees the emitted rows no frame will read again: all of them for closed windows; else all but
// the key's first row (first_value), the last lookback_rows rows and the rows within the RANGE
// interval before the next row to be emitted.
void WindowFunctionOperator::prune(KeyRows& k, TimestampTz wm) {
  size_t keep_from = k.history.size();
  if (per_key_) {
    keep_from = k.history.size() > size_t(lookback_rows_) ? k.history.size() - lookback_rows_ : 0;
    if (lookback_us_ >= 0) {
      TimestampTz next = k.pending.empty() ? wm : std::min(wm, k.pending.front().time);
      TimestampTz from = next - lookback_us_;
      size_t i = keep_from;
      while (i > 0 && k.history[i - 1].time >= from) i--;
      keep_from = i;
    }
  }
  size_t first = keep_first_ && per_key_ && !k.history.empty() ? 1 : 0;
  if (keep_from <= first) return;
  pg::call([&] {
    for (size_t i = first; i < keep_from; i++) layout_.free(k.history[i]);
  });
  k.history.erase(k.history.begin() + first, k.history.begin() + keep_from);
}

// A key with no rows left is forgotten (and its checkpoint entry removed).
void WindowFunctionOperator::forget_if_empty(Group* g) {
  auto it = rows_.find(g);
  if (it == rows_.end() || !it->second.history.empty() || !it->second.pending.empty()) return;
  if (g->persisted) {
    StateEncoder key;
    pg::call([&] { keys_->encode_keys(g, key); });
    removed_.push_back(key.bytes());
  }
  unsaved_.unmark(g);
  rows_.erase(it);
  pg::call([&] { keys_->erase(g); });
}

// Runs the plan over the kept rows of `keys` (their history, the rows to emit, the later rows
// lead() reads) and emits the rows flagged for emission, in event-time order.
void WindowFunctionOperator::evaluate(const std::vector<Group*>& keys) {
  std::vector<KeyRows*> sets;
  for (Group* g : keys) sets.push_back(&rows_[g]);
  Tuplestorestate* results = pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(eval_memory_);
    Tuplestorestate* input = tuplestore_begin_heap(false, false, work_mem);
    Datum* values = (Datum*)palloc(sizeof(Datum) * (in_cols_ + 2));
    bool* nulls = (bool*)palloc(sizeof(bool) * (in_cols_ + 2));
    double count = 0;
    auto put = [&](const StoredRow& r, bool emit) {
      memcpy(values, r.values, sizeof(Datum) * in_cols_);
      memcpy(nulls, r.nulls, sizeof(bool) * in_cols_);
      values[in_cols_] = TimestampTzGetDatum(r.time);
      nulls[in_cols_] = false;
      values[in_cols_ + 1] = BoolGetDatum(emit);
      nulls[in_cols_ + 1] = false;
      tuplestore_putvalues(input, enr_desc_, values, nulls);
      count++;
    };
    for (KeyRows* k : sets) {
      for (const StoredRow& r : k->history) put(r, false);
      for (size_t i = 0;
           i < k->pending.size() && (i < k->release || k->pending[i].time < watermark_); i++)
        put(k->pending[i], i < k->release);
    }
    QueryEnvironment* env = create_queryEnv();
    EphemeralNamedRelation enr =
        (EphemeralNamedRelation)palloc0(sizeof(EphemeralNamedRelationData));
    enr->md.name = pstrdup(kRelationName);
    enr->md.reliddesc = InvalidOid;
    enr->md.tupdesc = enr_desc_;
    enr->md.enrtype = ENR_NAMED_TUPLESTORE;
    enr->md.enrtuples = count;
    enr->reldata = input;
    register_ENR(env, enr);
    Tuplestorestate* output = tuplestore_begin_heap(false, false, work_mem);
    DestReceiver* dest = CreateDestReceiver(DestTuplestore);
    SetTuplestoreDestReceiverParams(dest, output, eval_memory_, false, nullptr, nullptr);
    QueryDesc* qd = CreateQueryDesc(stmt_, "arroyo_stream window functions",
                                    ActiveSnapshotSet() ? GetActiveSnapshot() : InvalidSnapshot,
                                    InvalidSnapshot, dest, nullptr, env, 0);
    ExecutorStart(qd, 0);
    ExecutorRun(qd, ForwardScanDirection, 0, true);
    ExecutorFinish(qd);
    ExecutorEnd(qd);
    FreeQueryDesc(qd);
    dest->rDestroy(dest);
    tuplestore_end(input);
    MemoryContextSwitchTo(old);
    return output;
  });
  bool more = true;
  while (more) {
    pg::call([&] {
      MemoryContext old = MemoryContextSwitchTo(round_memory_);
      while (!out_.full() && (more = tuplestore_gettupleslot(results, true, false, result_slot_))) {
        slot_getallattrs(result_slot_);
        if (!DatumGetBool(result_slot_->tts_values[out_cols_ + 1])) continue;
        int row = out_.append(DatumGetTimestampTz(result_slot_->tts_values[out_cols_]));
        for (int c = 0; c < out_cols_; c++) {
          Form_pg_attribute att = TupleDescAttr(result_desc_, c);
          bool isnull = result_slot_->tts_isnull[c];
          out_.nulls(row)[c] = isnull;
          out_.values(row)[c] =
              isnull ? 0 : datumCopy(result_slot_->tts_values[c], att->attbyval, att->attlen);
        }
      }
      MemoryContextSwitchTo(old);
    });
    emit(out_);
    out_.clear();
  }
  pg::call([&] {
    ExecClearTuple(result_slot_);
    MemoryContextReset(eval_memory_);
  });
}

void WindowFunctionOperator::checkpoint(StateWriter& w) {
  for (const std::string& key : removed_) w.remove(kKeyPart, key);
  removed_.clear();
  write_changed_groups(w, kKeyPart, *keys_, unsaved_, eval_memory_,
                       [&](Group* g, StateEncoder& out) {
                         const KeyRows& k = rows_[g];
                         out.put_int(int64(k.history.size()));
                         for (const StoredRow& r : k.history) layout_.encode(r, out);
                         out.put_int(int64(k.pending.size()));
                         for (const StoredRow& r : k.pending) layout_.encode(r, out);
                       });
  if (watermark_ != saved_watermark_) {
    w.put(kMetaPart, "m", encode_ints({watermark_, emitted_watermark_}));
    saved_watermark_ = watermark_;
  }
}

void WindowFunctionOperator::rescale(int, const KeyGroupFilter& keep) {
  rescale_ = RescaleGroups{keep, &unsaved_};
}

void WindowFunctionOperator::restore(const StateEntry& e) {
  if (e.part == kMetaPart) {
    std::vector<int64> v = decode_ints(e.value, 2, "the window functions' watermark");
    if (rescale_) {  // several old workers' (the same, at an aligned checkpoint): the least
      merge_least(watermark_, v[0], !meta_restored_);
      merge_least(emitted_watermark_, v[1], !meta_restored_);
      meta_restored_ = true;
      return;
    }
    watermark_ = saved_watermark_ = v[0];
    emitted_watermark_ = v[1];
    return;
  }
  const RescaleGroups* rescale = rescale_ ? &*rescale_ : nullptr;
  restore_group(
      *keys_, e, eval_memory_, "window functions",
      [&](Group* g, StateDecoder& in) {
        KeyRows& k = rows_[g];
        MemoryContext old = MemoryContextSwitchTo(memory_);
        for (int list = 0; list < 2; list++) {
          std::vector<StoredRow>& rows = list == 0 ? k.history : k.pending;
          int64 n = in.get_int();
          if (n < 0 || n > int64(e.value.size())) in.corrupt("a row count is damaged");
          for (int64 i = 0; i < n; i++) rows.push_back(layout_.decode(in));
        }
        if (!k.pending.empty()) {
          k.active = true;
          active_.push_back(g);
        }
        MemoryContextSwitchTo(old);
      },
      rescale);
}

}  // namespace arroyo
