// Between json_scan.cpp and the scanning kernels (json_scan_kernel.hpp). Not for other files.
//
// simdjson's On-Demand code is compiled for one simdjson implementation (its "builtin" one,
// chosen by the compiler's target flags: the scalar `fallback` for plain x86-64). So the half of
// JsonScanner and DebeziumScanner that walks documents with On-Demand is compiled once per
// implementation, each in its own translation unit with that implementation's target flags
// (json_scan_builtin.cpp with the build's flags, and on x86-64 json_scan_westmere.cpp,
// json_scan_haswell.cpp, json_scan_icelake.cpp; flags in src/formats/json_kernels.mk), and
// json_scan.cpp picks one at run time: the one matching simdjson's active implementation (what
// the library picked for this CPU, and uses for the structural indexing of every document).
//
// A kernel translation unit must not share code with another: the linker keeps one copy of an
// inline function for the whole library, and the copy it keeps may contain AVX-512 instructions
// run on a CPU without them. So everything a kernel defines is in its own namespace
// (arroyo::json_kernel_NAME, with internal linkage, and simdjson::NAME), everything shared
// (throwing, epoch conversions, the field map) is out of line in json_scan.cpp, compiled without
// target flags, and the build renames whatever inline function the compiler still emitted
// outside those namespaces (std::string_view's constructor in a sanitizer build, say) into the
// kernel's own copy (scripts/isolate_json_kernel.sh).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <unordered_map>

#include "formats/json_scan.hpp"

namespace arroyo {

// A kernel's JsonScanner half: parses a document and fills the scanner's values through the
// accessors below.
struct JsonScanner::Parser {
  explicit Parser(size_t max_depth);
  virtual ~Parser();
  virtual void scan(JsonScanner& s, const char* data, size_t len) = 0;

  size_t max_depth;

 protected:
  // The index of the field named `key`, or -1 when it is not wanted; `guess` is tried first.
  int find_field(const JsonScanner& s, std::string_view key, int guess) const;
  static const JsonScanField& field(const JsonScanner& s, int index);
  static void begin(JsonScanner& s);  // clears the values of the last document
  static void end(JsonScanner& s);    // the document is complete
  static void set_missing(JsonScanner& s, int index);
  static void set_text(JsonScanner& s, int index, std::string_view text);
  // A JSON number for an epoch field (JsonScanField::epoch_*), as microseconds.
  static void set_epoch(JsonScanner& s, int index, std::string_view token);
  static std::string& literal(JsonScanner& s);  // scratch for array literals

 private:
  friend class JsonScanner;
  std::unordered_map<std::string_view, int> field_index_;
};

struct DebeziumScanner::Parser {
  explicit Parser(size_t max_depth) : max_depth(max_depth) {}
  virtual ~Parser();
  virtual void scan(DebeziumEvent& event, const char* data, size_t len) = 0;

  size_t max_depth;
};

namespace json_scan {

// Throws JsonScanError for a simdjson error (DEPTH_ERROR: `max_depth` was exceeded).
[[noreturn]] void syntax_error(simdjson::error_code err, size_t max_depth = 0, int field = -1);
// Throws JsonScanError(Syntax) with `message`.
[[noreturn]] void malformed(const char* message);
[[noreturn]] void not_object();

struct Kernel {
  const char* name;  // the simdjson implementation it is compiled for
  JsonScanner::Parser* (*json)(size_t max_depth);
  DebeziumScanner::Parser* (*debezium)(size_t max_depth);
};

extern const Kernel kernel_builtin;  // json_scan_builtin.cpp
#if defined(__x86_64__)
extern const Kernel kernel_westmere, kernel_haswell, kernel_icelake;
#endif

}  // namespace json_scan
}  // namespace arroyo
