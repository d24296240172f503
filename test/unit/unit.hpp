// A small unit-test harness for the PostgreSQL-free code (test/unit/*_test.cpp, README
// "Testing"). A test program is one *_test.cpp file plus unit.cpp (main):
//
//   TEST(parses_a_port) {
//     CHECK(parse(...));
//     CHECK_EQ(e.port, 8080);
//     CHECK_THROWS(f(), std::invalid_argument, "exact what()");
//   }
//
// CHECK* record a failure (file:line, the expression, the values compared) and let the case go
// on; REQUIRE* also end the case. The program runs every case in file order (or those named on
// its command line), prints "PASS <program>: <case>" or "FAIL <program>: <case>" for each,
// and exits 1 if any failed.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace unit {

struct Case {
  const char* name;
  std::function<void()> body;
};

std::vector<Case>& cases();
struct Register {
  Register(const char* name, std::function<void()> body) {
    cases().push_back({name, std::move(body)});
  }
};

// Records a failed check of the current case.
void fail(const char* file, int line, const std::string& what);
// Thrown by REQUIRE*: ends the current case (already marked failed).
struct Abort {};

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

// How a value is shown in a failure message.
template <typename T>
std::string show(const T& v) {
  if constexpr (is_optional<T>::value) {
    return v ? show(*v) : std::string("(none)");
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    std::string out = "\"";
    for (char c : std::string_view(v)) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
        char buf[8];
        snprintf(buf, sizeof buf, "\\x%02x", (unsigned char)c);
        out += buf;
      } else {
        out += c;
      }
    }
    return out + "\"";
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else {
    std::ostringstream s;
    s << v;
    return s.str();
  }
}

template <typename A, typename B>
bool check_eq(const A& a, const B& b, const char* a_text, const char* b_text, const char* file,
              int line) {
  if (a == b) return true;
  fail(file, line,
       std::string("CHECK_EQ(") + a_text + ", " + b_text + "): " + show(a) + " != " + show(b));
  return false;
}

}  // namespace unit

#define UNIT_CAT2(a, b) a##b
#define UNIT_CAT(a, b) UNIT_CAT2(a, b)

#define TEST(name)                                                                           \
  static void UNIT_CAT(unit_case_, name)();                                                  \
  static ::unit::Register UNIT_CAT(unit_register_, name)(#name, UNIT_CAT(unit_case_, name)); \
  static void UNIT_CAT(unit_case_, name)()

#define CHECK(cond) ((cond) ? true : (::unit::fail(__FILE__, __LINE__, "CHECK(" #cond ")"), false))

#define CHECK_EQ(a, b) ::unit::check_eq((a), (b), #a, #b, __FILE__, __LINE__)

#define REQUIRE(cond)                        \
  do {                                       \
    if (!CHECK(cond)) throw ::unit::Abort{}; \
  } while (0)

#define REQUIRE_EQ(a, b)                        \
  do {                                          \
    if (!CHECK_EQ(a, b)) throw ::unit::Abort{}; \
  } while (0)

// Checks that `expr` throws a `type` whose what() is exactly `message`.
#define CHECK_THROWS(expr, type, message)                                                    \
  do {                                                                                       \
    try {                                                                                    \
      (void)(expr);                                                                          \
      ::unit::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr "): nothing was thrown");       \
    } catch (const type& unit_e) {                                                           \
      ::unit::check_eq(std::string(unit_e.what()), std::string(message), "what()", #message, \
                       __FILE__, __LINE__);                                                  \
    } catch (...) {                                                                          \
      ::unit::fail(__FILE__, __LINE__, "CHECK_THROWS(" #expr "): not a " #type);             \
    }                                                                                        \
  } while (0)
