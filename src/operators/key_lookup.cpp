#include "operators/key_lookup.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace arroyo {

namespace {

// Finds the row the scan keys `skey` name through an open index scan and locks it into
// `found` (see KeyLookup); `snap` is the scan's dirty snapshot.
bool find_in_scan(Relation rel, IndexScanDesc scan, SnapshotData& snap, ScanKeyData* skey,
                  int nkeys, TupleTableSlot* found) {
  bool result = false;
  for (;;) {
    index_rescan(scan, skey, nkeys, nullptr, 0);
    result = index_getnext_slot(scan, ForwardScanDirection, found);
    if (!result) break;
    // A writer still in progress: wait for it, then look again.
    TransactionId xwait = TransactionIdIsValid(snap.xmin) ? snap.xmin : snap.xmax;
    if (TransactionIdIsValid(xwait)) {
      XactLockTableWait(xwait, nullptr, nullptr, XLTW_None);
      continue;
    }
    TM_FailureData tmfd;
    PushActiveSnapshot(GetLatestSnapshot());
    TM_Result res = table_tuple_lock(rel, &found->tts_tid, GetLatestSnapshot(), found,
                                     GetCurrentCommandId(false), LockTupleExclusive, LockWaitBlock,
                                     0 /* don't follow updates */, &tmfd);
    PopActiveSnapshot();
    if (res == TM_Ok) break;
    if (res == TM_Updated || res == TM_Deleted) continue;  // changed meanwhile: look again
    if (res == TM_Invisible) elog(ERROR, "attempted to lock invisible tuple");
    elog(ERROR, "unexpected table_tuple_lock status: %u", res);
  }
  return result;
}

}  // namespace

void KeyLookup::open(Relation rel, Oid index) {
  rel_ = rel;
  idx_ = index_open(index, RowExclusiveLock);
  nkeys_ = IndexRelationGetNumberOfKeyAttributes(idx_);
  for (int i = 0; i < nkeys_; i++) {
    Oid optype = idx_->rd_opcintype[i];
    Oid op = get_opfamily_member(idx_->rd_opfamily[i], optype, optype, BTEqualStrategyNumber);
    if (!OidIsValid(op))
      elog(ERROR, "missing equality operator for type %u in operator family %u", optype,
           idx_->rd_opfamily[i]);
    fmgr_info(get_opcode(op), &eq_[i]);
  }
  InitDirtySnapshot(snap_);
  scan_ = index_beginscan(rel_, idx_, &snap_, nkeys_, 0);
}

bool KeyLookup::find(TupleTableSlot* search, TupleTableSlot* found) {
  ScanKeyData skey[INDEX_MAX_KEYS];
  for (int i = 0; i < nkeys_; i++) {
    AttrNumber col = idx_->rd_index->indkey.values[i];
    if (search->tts_isnull[col - 1]) {
      ScanKeyEntryInitialize(&skey[i], SK_ISNULL | SK_SEARCHNULL, AttrNumber(i + 1),
                             InvalidStrategy, InvalidOid, InvalidOid, InvalidOid, (Datum)0);
      continue;
    }
    ScanKeyEntryInitializeWithInfo(&skey[i], 0, AttrNumber(i + 1), BTEqualStrategyNumber,
                                   InvalidOid, idx_->rd_indcollation[i], &eq_[i],
                                   search->tts_values[col - 1]);
  }
  return find_in_scan(rel_, scan_, snap_, skey, nkeys_, found);
}

bool KeyLookup::bitwise_keys() const {
  TupleDesc desc = RelationGetDescr(rel_);
  for (int i = 0; i < nkeys_; i++) {
    AttrNumber col = idx_->rd_index->indkey.values[i];
    if (col <= 0) return false;  // an expression
    Oid type = TupleDescAttr(desc, col - 1)->atttypid;
    switch (type) {
      case INT2OID:
      case INT4OID:
      case INT8OID:
      case OIDOID:
      case DATEOID:
      case TIMESTAMPOID:
      case TIMESTAMPTZOID:
      case BOOLOID: break;
      default: return false;
    }
    Oid opclass = GetDefaultOpClass(type, BTREE_AM_OID);
    if (idx_->rd_opcintype[i] != type || !OidIsValid(opclass) ||
        idx_->rd_opfamily[i] != get_opclass_family(opclass))
      return false;
  }
  return true;
}

void KeyLookup::close() {
  if (!idx_) return;
  index_endscan(scan_);
  index_close(idx_, NoLock);
  idx_ = nullptr;
  scan_ = nullptr;
}

}  // namespace arroyo
