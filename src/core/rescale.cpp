// The default answers to rescaling (a pipeline resumed with another number of workers than
// its checkpoint's): an operator, source or sink that does not say how its state moves
// refuses, rather than losing or duplicating it.
#include "core/connector.hpp"
#include "core/operator.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {

[[noreturn]] void refuse(const char* what, int old_parallelism) {
  pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
           std::string("this ") + what +
               " cannot resume with another parallelism than its checkpoint's (" +
               std::to_string(old_parallelism) + ")");
}

}  // namespace

void Operator::rescale(int old_parallelism, const KeyGroupFilter&) {
  refuse("operator", old_parallelism);
}

void Source::rescale(int old_parallelism) { refuse("source", old_parallelism); }

void Sink::rescale(int old_parallelism) { refuse("sink", old_parallelism); }

}  // namespace arroyo
