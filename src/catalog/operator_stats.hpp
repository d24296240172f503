// The per-operator counters of a pipeline's last run (table _arroyo_stream.operator_stats),
// which stream_operators shows once the worker is gone.
#pragma once

#include "core/node_stats.hpp"

#include <vector>

namespace arroyo {

// Replaces the pipeline's stored per-operator counters with `nodes` (needs a transaction).
// Does nothing when the installed extension script has no such table (before 0.4.0).
void catalog_save_node_stats(int32 id, const std::vector<NodeStats>& nodes);

}  // namespace arroyo
