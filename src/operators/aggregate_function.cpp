#include "operators/aggregate_function.hpp"

#include "pg/guard.hpp"
#include "state/codec.hpp"

extern "C" {
#include "executor/nodeAgg.h"
#include "parser/parse_agg.h"
}

namespace arroyo {

bool AggregateFunction::has_moving(Oid aggfnoid) {
  return pg::call([&] {
    HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
    bool ok = OidIsValid(((Form_pg_aggregate)GETSTRUCT(tup))->aggminvtransfn);
    ReleaseSysCache(tup);
    return ok;
  });
}

AggregateFunction::AggregateFunction(Aggref* aggref, bool moving) {
  pg::call([&] {
    HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggref->aggfnoid));
    if (!HeapTupleIsValid(tup))
      elog(ERROR, "cache lookup failed for aggregate %u", aggref->aggfnoid);
    Form_pg_aggregate agg = (Form_pg_aggregate)GETSTRUCT(tup);
    Oid transfn = moving ? agg->aggmtransfn : agg->aggtransfn;
    Oid finalfn = moving ? agg->aggmfinalfn : agg->aggfinalfn;
    // Ordered-set aggregates: the direct arguments (percentile_cont's fraction) go to the
    // final function only; the transition function takes the aggregated ones.
    int all_args = get_aggregate_argtypes(aggref, input_types_);
    num_direct_args_ =
        AGGKIND_IS_ORDERED_SET(aggref->aggkind) ? list_length(aggref->aggdirectargs) : 0;
    num_args_ = all_args - num_direct_args_;
    trans_type_ = resolve_aggregate_transtype(
        aggref->aggfnoid, moving ? agg->aggmtranstype : agg->aggtranstype, input_types_, all_args);
    result_type_ = aggref->aggtype;
    collation_ = aggref->inputcollid;
    final_extra_ = moving ? agg->aggmfinalextra : agg->aggfinalextra;
    get_typlenbyval(trans_type_, &trans_len_, &trans_byval_);
    get_typlenbyval(result_type_, &result_len_, &result_byval_);
    bool isnull;
    Datum initval = SysCacheGetAttr(
        AGGFNOID, tup, moving ? Anum_pg_aggregate_aggminitval : Anum_pg_aggregate_agginitval,
        &isnull);
    init_null_ = isnull;
    init_value_ = 0;
    if (!isnull) {
      Oid input_fn, ioparam;
      getTypeInputInfo(trans_type_, &input_fn, &ioparam);
      init_value_ = OidInputFunctionCall(input_fn, TextDatumGetCString(initval), ioparam, -1);
    }
    Expr *trans_expr, *inv_expr, *final_expr, *combine_expr, *unused;
    Oid invfn = moving ? agg->aggminvtransfn : InvalidOid;
    build_aggregate_transfn_expr(input_types_, all_args, num_direct_args_, aggref->aggvariadic,
                                 trans_type_, collation_, transfn, invfn, &trans_expr, &inv_expr);
    fmgr_info(transfn, &transfn_);
    fmgr_info_set_expr((Node*)trans_expr, &transfn_);
    invfn_.fn_oid = InvalidOid;
    if (OidIsValid(invfn)) {
      fmgr_info(invfn, &invfn_);
      fmgr_info_set_expr((Node*)inv_expr, &invfn_);
    }
    finalfn_.fn_oid = InvalidOid;
    if (OidIsValid(finalfn)) {
      int n = final_extra_ ? all_args + 1 : num_direct_args_ + 1;
      build_aggregate_finalfn_expr(input_types_, n, trans_type_, result_type_, collation_, finalfn,
                                   &final_expr);
      fmgr_info(finalfn, &finalfn_);
      fmgr_info_set_expr((Node*)final_expr, &finalfn_);
    }
    combine_.fn_oid = InvalidOid;
    // (A moving aggregate's states can be combined too when they are the plain ones.)
    if ((!moving || agg->aggmtransfn == agg->aggtransfn) && OidIsValid(agg->aggcombinefn)) {
      Oid pair[2] = {trans_type_, trans_type_};
      build_aggregate_transfn_expr(pair, 1, 0, false, trans_type_, collation_, agg->aggcombinefn,
                                   InvalidOid, &combine_expr, &unused);
      fmgr_info(agg->aggcombinefn, &combine_);
      fmgr_info_set_expr((Node*)combine_expr, &combine_);
    }
    // States of a plain type are checkpointed as they are; `internal` ones through the
    // serialization functions, which apply to the moving state only when it is the same one,
    // and only with a combine function, which folds a restored state into a live one.
    serialfn_.fn_oid = deserialfn_.fn_oid = InvalidOid;
    if (trans_type_ != INTERNALOID) {
      serializable_ = true;
    } else if (OidIsValid(agg->aggserialfn) && OidIsValid(agg->aggdeserialfn) &&
               OidIsValid(combine_.fn_oid) && (!moving || agg->aggmtransfn == agg->aggtransfn)) {
      serializable_ = true;
      fmgr_info(agg->aggserialfn, &serialfn_);
      fmgr_info(agg->aggdeserialfn, &deserialfn_);
    }
    ReleaseSysCache(tup);

    agg_state_ = makeNode(AggState);
    agg_context_ = CreateStandaloneExprContext();
    agg_state_->curaggcontext = agg_context_;
    agg_state_->tmpcontext = agg_context_;
    // What AggGetAggref() and AggStateIsShared() read (ordered-set aggregates ask): the call is
    // always in this aggregate's transition or final function, whose state is its own.
    AggStatePerTrans pertrans = (AggStatePerTrans)palloc0(sizeof(AggStatePerTransData));
    pertrans->aggref = aggref;
    pertrans->aggshared = false;
    agg_state_->curpertrans = pertrans;
    trans_call_ = (FunctionCallInfo)palloc0(SizeForFunctionCallInfo(num_args_ + 1));
    InitFunctionCallInfoData(*trans_call_, &transfn_, num_args_ + 1, collation_, (Node*)agg_state_,
                             nullptr);
    final_call_ = (FunctionCallInfo)palloc0(SizeForFunctionCallInfo(all_args + 1));
    InitFunctionCallInfoData(*final_call_, &finalfn_,
                             final_extra_ ? all_args + 1 : num_direct_args_ + 1, collation_,
                             (Node*)agg_state_, nullptr);
    direct_values_ = (Datum*)palloc0(sizeof(Datum) * (num_direct_args_ + 1));
    direct_nulls_ = (bool*)palloc0(sizeof(bool) * (num_direct_args_ + 1));
    inv_call_ = (FunctionCallInfo)palloc0(SizeForFunctionCallInfo(num_args_ + 1));
    InitFunctionCallInfoData(*inv_call_, &invfn_, num_args_ + 1, collation_, (Node*)agg_state_,
                             nullptr);
    combine_call_ = (FunctionCallInfo)palloc0(SizeForFunctionCallInfo(2));
    InitFunctionCallInfoData(*combine_call_, &combine_, 2, collation_, (Node*)agg_state_, nullptr);
    serial_call_ = (FunctionCallInfo)palloc0(SizeForFunctionCallInfo(1));
    InitFunctionCallInfoData(*serial_call_, &serialfn_, 1, InvalidOid, (Node*)agg_state_, nullptr);
    deserial_call_ = (FunctionCallInfo)palloc0(SizeForFunctionCallInfo(2));
    InitFunctionCallInfoData(*deserial_call_, &deserialfn_, 2, InvalidOid, (Node*)agg_state_,
                             nullptr);
  });
}

// Points the fake aggregate context at the memory the state lives in.
void AggregateFunction::enter(MemoryContext state_memory) {
  agg_context_->ecxt_per_tuple_memory = state_memory;
}

void AggregateFunction::init(AggValue& s, MemoryContext state_memory) {
  s.inputs = 0;
  s.isnull = init_null_;
  s.no_value = init_null_;
  s.restored = false;
  s.value = init_null_ ? 0 : pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(state_memory);
    Datum d = datumCopy(init_value_, trans_byval_, trans_len_);
    MemoryContextSwitchTo(old);
    return d;
  });
}

void AggregateFunction::advance(AggValue& s, const Datum* args, const bool* nulls,
                                MemoryContext state_memory) {
  if (transfn_.fn_strict) {
    for (int i = 0; i < num_args_; i++)
      if (nulls[i]) return;
    if (s.no_value) {
      // PostgreSQL's rule: the first non-null input becomes the state.
      MemoryContext old = MemoryContextSwitchTo(state_memory);
      s.value = datumCopy(args[0], trans_byval_, trans_len_);
      MemoryContextSwitchTo(old);
      s.isnull = false;
      s.no_value = false;
      s.inputs++;
      return;
    }
    if (s.isnull) return;
  }
  if (s.restored)
    rebase(s, args, nulls, state_memory);
  else
    step(trans_call_, transfn_.fn_strict, s, args, nulls, state_memory);
  s.inputs++;
}

void AggregateFunction::rebase(AggValue& s, const Datum* args, const bool* nulls,
                               MemoryContext state_memory) {
  AggValue fresh;
  init(fresh, state_memory);
  step(trans_call_, transfn_.fn_strict, fresh, args, nulls, state_memory);
  // The restored state stays in state_memory until that is freed: its parts are the
  // aggregate's own business. (Once per group and restart.)
  combine(fresh, s, state_memory);
  fresh.inputs = s.inputs;
  s = fresh;
}

bool AggregateFunction::retract(AggValue& s, const Datum* args, const bool* nulls,
                                MemoryContext state_memory) {
  if (invfn_.fn_strict)
    for (int i = 0; i < num_args_; i++)
      if (nulls[i]) return true;
  if (--s.inputs == 0) {
    // Nothing left: back to the initial state (as PostgreSQL's moving aggregates do).
    init(s, state_memory);
    return true;
  }
  // PostgreSQL's rule: an inverse transition function returns NULL when it cannot take the
  // row back (numeric's, when the last of the inputs with the largest scale goes but others
  // remain); the caller then recomputes from the group's rows.
  if (s.restored) {
    // Folded into a state with this row added, which the inverse function takes back first.
    rebase(s, args, nulls, state_memory);
    step(inv_call_, invfn_.fn_strict, s, args, nulls, state_memory);
    if (s.isnull) return false;
  }
  step(inv_call_, invfn_.fn_strict, s, args, nulls, state_memory);
  return !s.isnull;
}

bool AggregateFunction::inverse_may_fail(Oid aggfnoid) {
  if (aggfnoid >= FirstNormalObjectId) return true;  // user-defined: anything goes
  return pg::call([&] {
    HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
    bool internal = ((Form_pg_aggregate)GETSTRUCT(tup))->aggmtranstype == INTERNALOID;
    ReleaseSysCache(tup);
    return internal;  // the numeric family: see retract()
  });
}

void AggregateFunction::step(FunctionCallInfo fc, bool, AggValue& s, const Datum* args,
                             const bool* nulls, MemoryContext state_memory) {
  enter(state_memory);
  fc->args[0].value = s.value;
  fc->args[0].isnull = s.isnull;
  for (int i = 0; i < num_args_; i++) {
    fc->args[i + 1].value = args[i];
    fc->args[i + 1].isnull = nulls[i];
  }
  fc->isnull = false;
  // (Called before fc->isnull is read: the order of a call's arguments is unspecified.)
  Datum result = FunctionCallInvoke(fc);
  store(s, result, fc->isnull, state_memory);
}

// Makes a transition function's result the new state, copying a new by-reference value into
// the state's memory (PostgreSQL's rule: the function may return a fresh palloc'd value).
void AggregateFunction::store(AggValue& s, Datum result, bool isnull, MemoryContext state_memory) {
  if (!trans_byval_ && !isnull && DatumGetPointer(result) != DatumGetPointer(s.value)) {
    MemoryContext old = MemoryContextSwitchTo(state_memory);
    result = datumCopy(result, trans_byval_, trans_len_);
    MemoryContextSwitchTo(old);
  }
  s.value = result;
  s.isnull = isnull;
  s.no_value = false;
}

void AggregateFunction::combine(AggValue& into, const AggValue& from, MemoryContext state_memory) {
  if (combine_.fn_strict) {
    if (from.isnull) return;
    if (into.isnull) {
      MemoryContext old = MemoryContextSwitchTo(state_memory);
      into.value = datumCopy(from.value, trans_byval_, trans_len_);
      MemoryContextSwitchTo(old);
      into.isnull = false;
      into.no_value = false;
      return;
    }
  }
  enter(state_memory);
  FunctionCallInfo fc = combine_call_;
  fc->args[0].value = into.value;
  fc->args[0].isnull = into.isnull;
  fc->args[1].value = from.value;
  fc->args[1].isnull = from.isnull;
  fc->isnull = false;
  // An `internal` state the combine function made from nothing is no transition state.
  bool restored = trans_type_ == INTERNALOID && (into.restored || into.isnull);
  Datum result = FunctionCallInvoke(fc);
  store(into, result, fc->isnull, state_memory);
  into.restored = restored && !into.isnull;
}

Datum AggregateFunction::finish(AggValue& s, MemoryContext state_memory, bool* isnull) {
  Datum result;
  if (finalfn_.fn_oid == InvalidOid) {
    *isnull = s.isnull;
    result = s.value;
  } else if (finalfn_.fn_strict && s.isnull) {
    *isnull = true;
    return 0;
  } else {
    enter(state_memory);
    FunctionCallInfo fc = final_call_;
    fc->args[0].value = s.value;
    fc->args[0].isnull = s.isnull;
    for (int i = 1; i < fc->nargs; i++) {
      bool direct = i <= num_direct_args_;
      fc->args[i].value = direct ? direct_values_[i - 1] : 0;
      fc->args[i].isnull = direct ? direct_nulls_[i - 1] : true;
    }
    fc->isnull = false;
    result = FunctionCallInvoke(fc);
    *isnull = fc->isnull;
  }
  if (*isnull) return 0;
  return datumCopy(result, result_byval_, result_len_);
}

void AggregateFunction::set_direct_arg(int i, Datum value, bool isnull) {
  direct_values_[i] = value;
  direct_nulls_[i] = isnull;
}

void AggregateFunction::release_callbacks() {
  // What ShutdownExprContext does: ordered-set aggregates end their sorts here.
  while (ExprContext_CB* cb = agg_context_->ecxt_callbacks) {
    agg_context_->ecxt_callbacks = cb->next;
    cb->function(cb->arg);
    pfree(cb);
  }
}

void AggregateFunction::serialize(const AggValue& s, StateEncoder& out,
                                  MemoryContext state_memory) {
  out.put_bool(s.isnull);
  out.put_bool(s.no_value);
  out.put_int(s.inputs);
  if (s.isnull) return;
  if (trans_type_ != INTERNALOID) {
    out.put_datum(s.value, false, trans_byval_, trans_len_);
    return;
  }
  enter(state_memory);
  serial_call_->args[0].value = s.value;
  serial_call_->args[0].isnull = false;
  serial_call_->isnull = false;
  Datum bytes = FunctionCallInvoke(serial_call_);
  if (serial_call_->isnull) elog(ERROR, "aggregate serialization function returned NULL");
  out.put_datum(bytes, false, false, -1);
}

void AggregateFunction::deserialize(AggValue& s, StateDecoder& in, MemoryContext state_memory) {
  s.isnull = in.get_bool();
  s.no_value = in.get_bool();
  s.inputs = in.get_int();
  s.value = 0;
  s.restored = false;
  if (s.isnull) return;
  bool isnull;
  // The serialized bytes are a temporary (CurrentMemoryContext); the state lives in
  // state_memory.
  Datum bytes = trans_type_ == INTERNALOID ? in.get_datum(&isnull, false, -1) : 0;
  MemoryContext old = MemoryContextSwitchTo(state_memory);
  if (trans_type_ != INTERNALOID) {
    s.value = in.get_datum(&isnull, trans_byval_, trans_len_);
  } else {
    if (!isnull) {
      enter(state_memory);
      deserial_call_->args[0].value = bytes;
      deserial_call_->args[0].isnull = false;
      deserial_call_->args[1].value = PointerGetDatum(nullptr);
      deserial_call_->args[1].isnull = false;
      deserial_call_->isnull = false;
      s.value = FunctionCallInvoke(deserial_call_);
      isnull = deserial_call_->isnull;
      s.restored = true;
    }
  }
  MemoryContextSwitchTo(old);
  if (isnull) in.corrupt("an aggregate state is missing");
}

}  // namespace arroyo
