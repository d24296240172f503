// The transactions a worker runs its dataflow in: each starts with a snapshot pushed.
#pragma once

#include "pg/guard.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/snapmgr.h"
}

namespace arroyo {

inline void begin_transaction() {
  pg::call([&] {
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
  });
}

inline void commit_transaction() {
  pg::call([&] {
    PopActiveSnapshot();
    CommitTransactionCommand();
  });
}

}  // namespace arroyo
