// main() of every unit-test program (unit.hpp).
#include "unit.hpp"

#include <cstdio>
#include <cstring>
#include <exception>

namespace unit {

namespace {
int failures_in_case = 0;
}

std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

void fail(const char* file, int line, const std::string& what) {
  failures_in_case++;
  const char* base = strrchr(file, '/');
  printf("  %s:%d: %s\n", base ? base + 1 : file, line, what.c_str());
}

}  // namespace unit

int main(int argc, char** argv) {
  const char* program = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  int run = 0, failed = 0;
  for (const unit::Case& c : unit::cases()) {
    bool wanted = argc == 1;
    for (int i = 1; i < argc; i++) wanted = wanted || strcmp(argv[i], c.name) == 0;
    if (!wanted) continue;
    unit::failures_in_case = 0;
    try {
      c.body();
    } catch (const unit::Abort&) {
    } catch (const std::exception& e) {
      unit::fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      unit::fail(__FILE__, __LINE__, "unexpected exception");
    }
    run++;
    if (unit::failures_in_case) failed++;
    printf("%s %s: %s\n", unit::failures_in_case ? "FAIL" : "PASS", program, c.name);
    fflush(stdout);
  }
  if (run == 0) {
    printf("FAIL %s: no test case matched\n", program);
    return 1;
  }
  printf("%s: %d of %d cases passed\n", program, run - failed, run);
  return failed ? 1 : 0;
}
