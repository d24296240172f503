#include "connectors/cdc/row_mirror.hpp"

#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/relation.h"
#include "utils/rel.h"
#include "utils/relcache.h"
}

namespace arroyo {

void RowMirror::init(Oid relid, int natts) {
  pg::call([&] {
    Relation rel = relation_open(relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < natts; i++) {
      Column c{true, true, 8};
      if (i < desc->natts) {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        c = Column{att->attbyval, att->attisdropped, att->attlen};
      }
      cols_.push_back(c);
    }
    identity_full_ = rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
    {
      Oid index = identity_full_ ? RelationGetPrimaryKeyIndex(rel) : RelationGetReplicaIndex(rel);
      if (OidIsValid(index)) {
        Relation idx = index_open(index, AccessShareLock);
        for (int k = 0; k < idx->rd_index->indnkeyatts; k++)
          key_cols_.push_back(idx->rd_index->indkey.values[k] - 1);
        index_close(idx, AccessShareLock);
      }
    }
    relation_close(rel, AccessShareLock);
  });
}

// The key's bytes: each key column's value without its varlena header (a value read from the
// table and the same value decoded from the WAL may differ in header form only).
std::string RowMirror::key_of(const Datum* values, const bool* nulls) const {
  std::string key;
  pg::call([&] {
    for (int c : key_cols_) {
      const Column& col = cols_[c];
      key.push_back(nulls[c] ? 0 : 1);
      if (nulls[c]) continue;
      if (col.byval) {
        key.append((const char*)&values[c], sizeof(Datum));
      } else if (col.len == -1) {
        struct varlena* v = (struct varlena*)DatumGetPointer(values[c]);
        if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v)) v = detoast_attr(v);
        uint32 n = VARSIZE_ANY_EXHDR(v);
        key.append((const char*)&n, sizeof n);
        key.append(VARDATA_ANY(v), n);
      } else if (col.len == -2) {
        const char* s = DatumGetCString(values[c]);
        key.append(s, strlen(s) + 1);
      } else {
        key.append(DatumGetPointer(values[c]), size_t(col.len));
      }
    }
  });
  return key;
}

void RowMirror::put(const Datum* values, const bool* nulls) {
  StateEncoder e;
  pg::call([&] {
    for (size_t c = 0; c < cols_.size(); c++)
      e.put_datum(values[c], nulls[c] || cols_[c].dropped, cols_[c].byval, cols_[c].len);
  });
  std::string key = key_of(values, nulls);
  store(key, e.bytes());
  dirty_.insert(std::move(key));
}

// Keeps `row` under `key`, counting the memory it takes.
void RowMirror::store(const std::string& key, const std::string& row) {
  auto [it, added] = rows_.try_emplace(key);
  if (added) bytes_ += int64(key.size()) + kEntryOverhead;
  bytes_ += int64(row.size()) - int64(it->second.size());
  it->second = row;
}

bool RowMirror::take(const Datum* values, const bool* nulls, std::string& row) {
  std::string key = key_of(values, nulls);
  auto it = rows_.find(key);
  if (it == rows_.end()) return false;
  bytes_ -= int64(key.size() + it->second.size()) + kEntryOverhead;
  row = std::move(it->second);
  rows_.erase(it);
  dirty_.insert(std::move(key));
  return true;
}

void RowMirror::decode(const std::string& row, Datum* values, bool* nulls) const {
  StateDecoder d(row.data(), row.size(), "a row kept by change data capture");
  for (size_t c = 0; c < cols_.size(); c++)
    values[c] = pg::call([&] { return d.get_datum(&nulls[c], cols_[c].byval, cols_[c].len); });
  d.expect_end();
}

void RowMirror::checkpoint(StateWriter& w) {
  for (const std::string& key : dirty_) {
    auto it = rows_.find(key);
    if (it == rows_.end())
      w.remove(kPart, key);
    else
      w.put(kPart, key, it->second);
  }
  dirty_.clear();
}

void RowMirror::restore(const StateEntry& e) { store(e.key, e.value); }

}  // namespace arroyo
