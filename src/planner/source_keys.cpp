// The key of an updating source (a debezium_json table's primary_key option, a regular table's
// primary key or replica identity index), traced to the columns of a pipeline's result, so that
// the result can be written into a table by key (upserts and deletes through its unique index).
#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "utils/rel.h"
}

namespace arroyo {

namespace {

// The 0-based columns of a source's key, in key order; empty if it declares none.
std::vector<int> source_key(const SourceNode& src) {
  std::vector<int> out;
  if (src.connector == &regular_table_connector()) {
    pg::call([&] {
      Relation rel = relation_open(src.spec.relid, NoLock);
      Oid index = RelationGetReplicaIndex(rel);
      if (!OidIsValid(index)) {
        RelationGetIndexList(rel);  // fills rd_pkindex
        index = rel->rd_pkindex;
      }
      relation_close(rel, NoLock);
      if (!OidIsValid(index)) return;
      Relation idx = index_open(index, AccessShareLock);
      for (int k = 0; k < idx->rd_index->indnkeyatts; k++)
        out.push_back(idx->rd_index->indkey.values[k] - 1);
      index_close(idx, AccessShareLock);
    });
    return out;
  }
  std::optional<std::string> list = get_option(src.spec.table_options, "primary_key");
  if (!list) return out;
  size_t start = 0;
  while (start <= list->size()) {
    size_t end = list->find(',', start);
    if (end == std::string::npos) end = list->size();
    std::string name = list->substr(start, end - start);
    size_t a = name.find_first_not_of(" \t"), b = name.find_last_not_of(" \t");
    name = a == std::string::npos ? "" : name.substr(a, b - a + 1);
    const ColumnInfo* col = src.spec.column(name);
    if (!col) return {};
    out.push_back(col->attnum - 1);
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<int> traced_source_key(const PlanNode* root, int* num_keys) {
  *num_keys = 0;
  TupleDesc out = root->desc;
  std::vector<int> key_of_column(out->natts, -1);
  // Per result column, the column of the node below it that it copies (-1: computed).
  std::vector<int> origin(out->natts);
  for (int c = 0; c < out->natts; c++) origin[c] = c + 1;
  const PlanNode* node = root;
  while (node->kind == PlanNode::Kind::Project) {
    auto* p = static_cast<const ProjectNode*>(node);
    for (int& attno : origin) {
      if (attno <= 0) continue;
      Node* e = (Node*)((TargetEntry*)list_nth(p->targets, attno - 1))->expr;
      while (e && IsA(e, RelabelType)) e = (Node*)((RelabelType*)e)->arg;
      attno = e && IsA(e, Var) ? ((Var*)e)->varattno : -1;
    }
    node = p->input.get();
  }
  if (node->kind != PlanNode::Kind::Source) return key_of_column;
  std::vector<int> key = source_key(*static_cast<const SourceNode*>(node));
  for (int c = 0; c < out->natts; c++)
    for (size_t k = 0; k < key.size(); k++)
      if (origin[c] == key[k] + 1 && !TupleDescAttr(out, c)->attisdropped) key_of_column[c] = k;
  *num_keys = key.size();
  return key_of_column;
}

}  // namespace arroyo
