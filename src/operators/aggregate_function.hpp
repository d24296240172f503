// One aggregate call of a query (an Aggref), driven through pg_aggregate's own functions:
// transition, combine and final functions, with PostgreSQL's strictness and initial-value rules.
// Nothing here reimplements an aggregate.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "nodes/execnodes.h"
}

namespace arroyo {

class StateEncoder;
class StateDecoder;

// A group's running transition state. States live in a memory context owned by the caller
// (a window pane, say); freeing that context frees them.
struct AggValue {
  Datum value = 0;
  bool isnull = true;
  bool no_value = true;  // strict transition function with NULL initial value, nothing seen yet
  int64 inputs = 0;      // rows folded in minus rows retracted (moving mode)
  // An `internal` state the transition function did not make: read back from a checkpoint by
  // the deserialization function, or made by the combine function from nothing. PostgreSQL
  // promises such a state only to the combine, final and serialization functions (15.18's
  // numeric_deserialize, say, returns one that no longer keeps the sum of squares), so
  // advance() and retract() first fold it into a state the transition function made.
  bool restored = false;
};

class AggregateFunction {
 public:
  // `aggref` as planned; its arguments are evaluated upstream and arrive as plain values.
  // In moving mode the aggregate runs on its moving-aggregate functions (msfunc, minvfunc,
  // mfinalfn), which can retract rows; see has_moving().
  AggregateFunction(Aggref* aggref, bool moving);

  // Whether the aggregate has moving-aggregate support (an inverse transition function).
  static bool has_moving(Oid aggfnoid);

  // Arguments of the transition function (for an ordered-set aggregate, the aggregated ones).
  int num_args() const { return num_args_; }
  // Direct arguments of an ordered-set aggregate (percentile_cont's fraction), given to the
  // final function; set them (constants, kept by the caller) before finish().
  int num_direct_args() const { return num_direct_args_; }
  void set_direct_arg(int i, Datum value, bool isnull);
  // Runs and forgets the shutdown callbacks transition functions registered (ordered-set
  // aggregates end their sorts there): call once a state is finished and before its memory
  // goes. Inside pg::call.
  void release_callbacks();
  bool strict_transition() const { return transfn_.fn_strict; }
  bool has_combine() const { return combine_.fn_oid != InvalidOid; }
  bool moving() const { return invfn_.fn_oid != InvalidOid; }
  Oid result_type() const { return result_type_; }
  Oid arg_type(int i) const { return input_types_[num_direct_args_ + i]; }

  void init(AggValue& s, MemoryContext state_memory);
  // Folds one row's argument values into `s`.
  void advance(AggValue& s, const Datum* args, const bool* nulls, MemoryContext state_memory);
  // Takes one row's argument values back out of `s` (moving mode only).
  // Returns false when the inverse function could not take the row out (it returned NULL):
  // the state is then unusable, and must be recomputed from the group's rows.
  bool retract(AggValue& s, const Datum* args, const bool* nulls, MemoryContext state_memory);
  // Whether an aggregate's inverse transition function may refuse a row (built-in ones with an
  // `internal` moving state, the numeric family, and every user-defined one).
  static bool inverse_may_fail(Oid aggfnoid);
  // Folds another state of the same aggregate into `into` (combine function).
  void combine(AggValue& into, const AggValue& from, MemoryContext state_memory);
  // The aggregate's result for `s`, allocated in CurrentMemoryContext.
  Datum finish(AggValue& s, MemoryContext state_memory, bool* isnull);

  // Whether states can be checkpointed: a plain transition type, or `internal` with
  // serialization functions and a combine function to fold a restored state into a live one
  // (PostgreSQL 15's array_agg and string_agg, say, have none; their operators keep the input
  // values instead and recompute after a restart).
  bool serializable() const { return serializable_; }
  // Writes a state into a checkpoint, through the serialization function if it is `internal`.
  // Runs inside pg::call.
  void serialize(const AggValue& s, StateEncoder& out, MemoryContext state_memory);
  // Reads a state serialize() wrote into `s`, allocated in `state_memory`; an `internal` one is
  // marked `restored`. Runs inside pg::call.
  void deserialize(AggValue& s, StateDecoder& in, MemoryContext state_memory);

 private:
  void enter(MemoryContext state_memory);

  int num_args_, num_direct_args_ = 0;
  Oid input_types_[FUNC_MAX_ARGS];  // direct arguments first, then the aggregated ones
  Datum* direct_values_;
  bool* direct_nulls_;
  Oid trans_type_, result_type_;
  int16 trans_len_, result_len_;
  bool trans_byval_, result_byval_;
  bool final_extra_ = false;
  Datum init_value_;
  bool init_null_;
  FmgrInfo transfn_, finalfn_, combine_, invfn_, serialfn_, deserialfn_;
  FunctionCallInfo trans_call_, final_call_, combine_call_, inv_call_, serial_call_, deserial_call_;
  bool serializable_ = false;
  // Calls the transition or inverse transition function (same argument layout).
  void step(FunctionCallInfo fc, bool strict, AggValue& s, const Datum* args, const bool* nulls,
            MemoryContext state_memory);
  void store(AggValue& s, Datum result, bool isnull, MemoryContext state_memory);
  // Replaces a `restored` state by one the transition function made from this row's values,
  // with the restored state combined into it.
  void rebase(AggValue& s, const Datum* args, const bool* nulls, MemoryContext state_memory);
  Oid collation_;
  // Makes AggCheckCallContext() succeed inside transition functions (array_agg, avg, ...),
  // handing them the state's memory context as their aggregate context.
  AggState* agg_state_;
  ExprContext* agg_context_;
};

}  // namespace arroyo
