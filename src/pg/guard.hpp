// The C++/PostgreSQL error boundary: the one mechanism for crossing it in either direction.
//
//  * pg::call(f)  runs PostgreSQL code from C++. A PostgreSQL ERROR raised inside f is caught by
//    f's own sigsetjmp, copied, and rethrown as pg::Error, so no longjmp ever skips a C++
//    destructor outside f. Rule: the body of f holds no C++ objects with destructors of its own.
//  * pg::entry(f) runs C++ from a PostgreSQL entry point (V1 function, FDW callback, hook). Any
//    C++ exception escaping f is turned into a PostgreSQL ERROR after every C++ frame has unwound.
#pragma once

#include "pg/postgres.hpp"

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace pg {

// A PostgreSQL error carried through C++ frames.
class Error : public std::exception {
 public:
  Error(int sqlerrcode, std::string message, std::string detail = {}, std::string hint = {},
        std::string context = {})
      : sqlerrcode_(sqlerrcode),
        message_(std::move(message)),
        detail_(std::move(detail)),
        hint_(std::move(hint)),
        context_(std::move(context)) {}

  const char* what() const noexcept override { return message_.c_str(); }
  int sqlerrcode() const { return sqlerrcode_; }
  const std::string& message() const { return message_; }
  const std::string& detail() const { return detail_; }
  const std::string& hint() const { return hint_; }
  const std::string& context() const { return context_; }
  // The message with detail appended, as stored in stream_pipelines.last_error.
  std::string full_message() const;

 private:
  int sqlerrcode_;
  std::string message_, detail_, hint_, context_;
};

// Builds a pg::Error from the ErrorData of a caught PostgreSQL error and clears the error state.
Error error_from_current(MemoryContext restore_to);

// Raises a PostgreSQL ERROR (longjmp) for the given exception; call only from plain C frames.
[[noreturn]] void raise_as_pg_error(std::exception_ptr& ex);

// Throws a pg::Error with an SQLSTATE; the C++-side equivalent of ereport(ERROR).
[[noreturn]] void fail(int sqlerrcode, std::string message, std::string detail = {},
                       std::string hint = {});

template <typename F>
auto call(F&& f) -> decltype(f()) {
  using R = decltype(f());
  MemoryContext ctx = CurrentMemoryContext;
  std::exception_ptr cpp_error;
  bool pg_failed = false;
  // The result lives outside the sigsetjmp frame; R must be trivially destructible.
  static_assert(std::is_void_v<R> || std::is_trivially_destructible_v<R>,
                "pg::call bodies return plain values");
  std::conditional_t<std::is_void_v<R>, int, R> result{};
  PG_TRY();
  {
    try {
      if constexpr (std::is_void_v<R>)
        f();
      else
        result = f();
    } catch (...) {
      cpp_error = std::current_exception();
    }
  }
  PG_CATCH();
  { pg_failed = true; }
  PG_END_TRY();
  if (pg_failed) throw error_from_current(ctx);
  if (cpp_error) std::rethrow_exception(cpp_error);
  if constexpr (!std::is_void_v<R>) return result;
}

template <typename F>
auto entry(F&& f) -> decltype(f()) {
  std::exception_ptr failure;
  try {
    return f();
  } catch (...) {
    failure = std::current_exception();
  }
  raise_as_pg_error(failure);
}

}  // namespace pg
