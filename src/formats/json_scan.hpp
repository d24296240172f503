// JsonScanner: the PostgreSQL-free half of JSON decoding. It parses one JSON object with
// simdjson and picks out the values of named fields as text, ready for a type's input function.
// Kept free of PostgreSQL headers so it can be tested on its own. The parsing itself is compiled
// once per simdjson implementation and picked at run time (json_scan_internal.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace arroyo {

// A field the scanner looks for, and how its value is wanted.
struct JsonScanField {
  std::string name;            // matched exactly against the (unescaped) key
  bool raw_json = false;       // every value as its JSON text (for json/jsonb columns)
  bool epoch_millis = false;   // numbers are epoch milliseconds, returned as micros
  bool epoch_auto = false;     // numbers are epoch millis, micros or nanos (by magnitude; Debezium)
  bool epoch_days = false;     // numbers are days since the epoch, returned as micros (Debezium)
  bool array_literal = false;  // JSON arrays as PostgreSQL array literals: [1,"a b"] -> {1,"a b"}
  bool json_elements =
      false;  // ... whose elements are JSON text (json[]/jsonb[]): ["a"] -> {"\"a\""}
};

// The value found for one field in the last scanned document.
struct JsonScanValue {
  enum Kind : uint8_t { Missing, Text, UnixMicros } kind = Missing;  // Missing: absent or null
  const char* text = nullptr;  // Text: NUL-terminated, valid until the next scan
  size_t len = 0;
  int64_t unix_micros = 0;  // UnixMicros: microseconds since 1970-01-01 00:00 UTC
};

// Why a document was rejected; `field` is the index of the field at fault, or -1. Messages
// do not name the field: the caller knows what it maps to.
class JsonScanError : public std::runtime_error {
 public:
  enum Reason { Syntax, NotObject, NulCharacter, OutOfRange, TooDeep };
  JsonScanError(Reason reason, int field, const std::string& message)
      : std::runtime_error(message), reason(reason), field(field) {}
  Reason reason;
  int field;
};

// How deeply objects and arrays may nest in one document by default (the document's own object
// counts as 1), as simdjson's DOM parser allows; table option json.max_depth.
constexpr size_t kJsonDefaultMaxDepth = 1000;

// Parsing never recurses: the nesting of a document costs heap memory, never stack, and a
// document nested deeper than `max_depth` is rejected (JsonScanError::TooDeep) whatever part
// of it is nested.
class JsonScanner {
 public:
  // `kernel`: the simdjson implementation to parse with (one of json_scan_kernels()); by
  // default json_scan_kernel(). Throws std::invalid_argument for one this CPU cannot run.
  explicit JsonScanner(std::vector<JsonScanField> fields, size_t max_depth = kJsonDefaultMaxDepth,
                       const char* kernel = nullptr);
  ~JsonScanner();
  JsonScanner(const JsonScanner&) = delete;
  JsonScanner& operator=(const JsonScanner&) = delete;

  // Parses one JSON object (the whole input must be that object) and fills values(); a
  // repeated key keeps its last value. Throws JsonScanError.
  void scan(const char* data, size_t len);
  // One entry per field, in the order the fields were given.
  const JsonScanValue* values() const { return values_.data(); }
  size_t field_count() const { return fields_.size(); }

  struct Parser;  // simdjson state and field reading (json_scan_internal.hpp)

 private:
  void set_text(int index, std::string_view text);

  std::vector<JsonScanField> fields_;
  std::vector<JsonScanValue> values_;
  std::vector<size_t> text_offsets_;  // where each Text value starts in arena_
  std::string arena_;                 // NUL-terminated value texts of the current document
  std::string literal_;               // scratch for building an array literal
  std::unique_ptr<Parser> parser_;
};

// The parts of one Debezium change event the decoder needs, as found by DebeziumScanner.
// Texts point into the scanner's copy of the message and stay valid until its next scan.
struct DebeziumEvent {
  bool tombstone = false;   // a JSON null, or JsonConverter's form with a null payload
  bool not_object = false;  // the envelope is not a JSON object
  bool has_op = false;      // "op" is present and a string
  std::string_view op;      // unescaped
  // The exact JSON text of "before" and "after" when they are objects (numbers keep every
  // digit sent); empty (data() == nullptr) when absent, null or not objects.
  std::string_view before, after;
};

// Finds the envelope of a Debezium change event — {"before","after","op",…}, or JsonConverter's
// {"schema":…, "payload": envelope} — checking the whole message as JsonScanner does (valid
// JSON, nesting at most `max_depth`, counting the message's object as 1). PostgreSQL-free.
class DebeziumScanner {
 public:
  explicit DebeziumScanner(size_t max_depth = kJsonDefaultMaxDepth,
                           const char* kernel = nullptr);  // kernel: as JsonScanner's
  ~DebeziumScanner();
  DebeziumScanner(const DebeziumScanner&) = delete;
  DebeziumScanner& operator=(const DebeziumScanner&) = delete;

  // Throws JsonScanError (Syntax, TooDeep) for a message that is not valid JSON.
  const DebeziumEvent& scan(const char* data, size_t len);

  struct Parser;  // json_scan_internal.hpp

 private:
  std::unique_ptr<Parser> parser_;
  DebeziumEvent event_;
};

// The simdjson implementations the scanners can walk documents with on this CPU, best first (on
// x86-64 those of icelake, haswell, westmere the CPU has, then the build's own, e.g. fallback),
// and the one they use by default: simdjson's active implementation (the one the library picked
// for this CPU, or SIMDJSON_FORCE_IMPLEMENTATION from the environment), if there is a kernel for
// it, else the build's own. Indexing a document (simdjson's stage 1) always uses the active one.
std::vector<std::string> json_scan_kernels();
std::string json_scan_kernel();

// Whether `s` is exactly one number in JSON syntax (as PostgreSQL's IsValidJsonNumber).
bool is_json_number(const char* s, size_t len);

}  // namespace arroyo
