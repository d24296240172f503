// Waiting on the process latch: the one sleep of workers and of SQL functions that poll.
#pragma once

#include "pg/postgres.hpp"

namespace pg {

// Sleeps until this process's latch is set or `timeout_ms` passes (not at all if it is 0 or
// less), exits if the postmaster dies, resets the latch and then handles pending interrupts
// (a cancel or terminate request becomes a pg::Error). Under pg::call.
void wait_latch(long timeout_ms);

}  // namespace pg
