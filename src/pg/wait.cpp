#include "pg/wait.hpp"

#include "pg/guard.hpp"

namespace pg {

void wait_latch(long timeout_ms) {
  call([&] {
    if (timeout_ms > 0)
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms,
                      PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
  });
}

}  // namespace pg
