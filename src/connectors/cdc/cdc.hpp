// Change data capture of regular tables: the registry's regular_table_connector(), which the
// planner uses for a regular table in a pipeline's FROM.
#pragma once

#include "core/connector.hpp"

#include <string>

namespace arroyo {

const Connector& cdc_connector();
// The replication slot of a pipeline: arroyo_<database oid>_<pipeline id>.
std::string cdc_slot_name(Oid dboid, int32 pipeline_id);
// Whether a replication slot of that name exists.
bool cdc_slot_exists(const std::string& name);
// Drops that slot if it exists; if another process uses it, fails, or with `wait`, waits for
// that process to release it.
void drop_cdc_slot_if_exists(const std::string& name, bool wait = false);
// Drops the replication slots of a database's pipelines (arroyo_<database oid>_*), for DROP
// EXTENSION: they are not in use once the database's workers have stopped.
void drop_cdc_slots_of_database(Oid dboid);

}  // namespace arroyo
