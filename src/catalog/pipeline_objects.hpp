// The catalog objects a pipeline owns, so that PostgreSQL's own dependency machinery protects
// what the pipeline uses (see the README's design notes, "Pipelines in the catalog"):
//
//   view _arroyo_stream."pipeline <name>"  the pipeline's SELECT, owned by the pipeline's owner;
//                                          it depends on every relation, column, function,
//                                          operator, type and aggregate the SELECT uses
//   rule "writes" on that view              ON INSERT DO INSTEAD INSERT INTO <target> (<columns>)
//                                          VALUES (new.*): it depends on the target and on each
//                                          column the pipeline writes
//   pg_depend: view -> target (normal)      so that DROP … CASCADE of the target drops the
//                                          pipeline too (recorded again when pg_dump's restore
//                                          creates the rule)
//
// Renames are followed (the objects are referenced by OID and attribute number); the query a
// worker runs is the view and rule deparsed now, after the SET lines of the text as written.
// Dropping the view (DROP … CASCADE of something it uses, DROP OWNED) drops the pipeline
// (api/pipeline_drop_hook.cpp).
// All functions need an open transaction.
#pragma once

#include "catalog/pipelines.hpp"

#include <optional>
#include <string>
#include <vector>

namespace arroyo {

// Longest pipeline name: its view's name, "pipeline <name>", must fit in NAMEDATALEN - 1.
constexpr int kMaxPipelineNameLen = NAMEDATALEN - 1 - 9;

// Creates the view, its rule and the target dependency for a pipeline just inserted into the
// catalog, resolving names with the current search_path.
void pipeline_objects_create(const std::string& name, const std::string& query, Oid owner);

// Drops a pipeline's view (and rule) if it exists; call after deleting its catalog row.
void pipeline_objects_drop(const std::string& name);

// The pipeline's query as it reads now: its SET lines, then INSERT INTO <target> (<columns>)
// and its view's SELECT, deparsed with the pipeline's search_path. nullopt for a pipeline
// without a view (created before 0.3.0: its text as written is all there is).
std::optional<std::string> pipeline_query_now(const PipelineRow& row);

// The pipeline text with its SET parallelism statements replaced by one setting `n` (none for
// 1), the rest as written.
std::string with_parallelism(const std::string& text, int n);

// What stream_pipelines shows: the text as written while nothing it uses was renamed (its
// deparse equals the one taken at stream_create), else the deparse of now.
std::string pipeline_query_shown(const PipelineRow& row);

// The pipeline whose view `relid` is, if it is one (and the catalog table still exists):
// api/pipeline_drop_hook.cpp drops the pipeline when its view is dropped.
std::optional<std::string> pipeline_of_view(Oid relid);

// The pipelines whose SELECT reads relation `relid` (column `att`; 0: any of it), by name;
// with `checkpointed`, only those with a checkpoint to resume from.
std::vector<std::string> pipelines_reading(Oid relid, AttrNumber att, bool checkpointed);

// After REASSIGN OWNED or ALTER … OWNER TO: a pipeline whose view changed owner gets that
// owner (its worker runs as it).
void sync_pipeline_owners();

// After CREATE RULE on a pipeline view (stream_create, or a restore): records the view's
// dependency on the rule's target.
void pipeline_rule_created(Oid view);

}  // namespace arroyo
