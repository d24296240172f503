// Taking and resuming from checkpoints, for the pipeline worker: a checkpoint goes into the
// transaction about to commit; resuming loads the last one into a freshly built dataflow.
#pragma once

#include "runtime/dataflow.hpp"
#include "state/checkpoint_store.hpp"

namespace arroyo {

// Loads the pipeline's last checkpoint into the dataflow, if it has one. Fails if it is
// missing, damaged, or was written by a dataflow other than the one the query now plans to.
void resume(Dataflow& flow, CheckpointStore& store);
// Writes a checkpoint into the current transaction, if anything changed since the last one.
void checkpoint(Dataflow& flow, CheckpointStore& store);

}  // namespace arroyo
