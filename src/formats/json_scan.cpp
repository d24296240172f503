#include "formats/json_scan.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "formats/json_scan_internal.hpp"

namespace arroyo {

using simdjson::error_code;

bool is_json_number(const char* s, size_t len) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    return i > start;
  };
  if (i < len && s[i] == '-') i++;
  if (i < len && s[i] == '0')
    i++;
  else if (!digits())
    return false;
  if (i < len && s[i] == '.') {
    i++;
    if (!digits()) return false;
  }
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    if (!digits()) return false;
  }
  return i == len;
}

namespace json_scan {

// Rejects a document with a message for the simdjson error that stopped it (DEPTH_ERROR: a
// JsonWalker's limit, `max_depth`).
[[noreturn]] void syntax_error(error_code err, size_t max_depth, int field) {
  if (err == simdjson::DEPTH_ERROR)
    throw JsonScanError(JsonScanError::TooDeep, field,
                        "JSON nested more than " + std::to_string(max_depth) +
                            " levels deep (json.max_depth)");
  const char* why;
  switch (err) {
    case simdjson::NUMBER_ERROR: why = "invalid number"; break;
    case simdjson::STRING_ERROR: why = "invalid string or escape sequence"; break;
    case simdjson::UNCLOSED_STRING: why = "unterminated string"; break;
    case simdjson::UTF8_ERROR: why = "invalid UTF-8"; break;
    case simdjson::EMPTY: why = "empty document"; break;
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT: why = "ends inside an object or array"; break;
    case simdjson::TAPE_ERROR: why = "missing or extra commas, colons, braces or brackets"; break;
    case simdjson::INCORRECT_TYPE:
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR: why = "invalid literal"; break;
    default: why = simdjson::error_message(err);
  }
  throw JsonScanError(JsonScanError::Syntax, -1, std::string("malformed JSON: ") + why);
}

void malformed(const char* message) { throw JsonScanError(JsonScanError::Syntax, -1, message); }

void not_object() {
  throw JsonScanError(JsonScanError::NotObject, -1, "JSON document is not an object");
}

}  // namespace json_scan

// Converts an epoch-milliseconds JSON number to microseconds since the Unix epoch.
static int64_t millis_to_micros(std::string_view token, int field);

// An epoch number as microseconds: milliseconds, days, or (Debezium's Timestamp,
// MicroTimestamp and NanoTimestamp) whichever of millis, micros and nanos its size says.
static int64_t epoch_to_micros(const JsonScanField& spec, std::string_view token, int field) {
  if (spec.epoch_millis) return millis_to_micros(token, field);
  int64_t n;
  const char* end = token.data() + token.size();
  auto [p, err] = std::from_chars(token.data(), end, n);
  if (err != std::errc() || p != end)
    throw JsonScanError(JsonScanError::OutOfRange, field,
                        "expected an integer epoch value: " + std::string(token));
  if (spec.epoch_days) {
    if (n > 100000000 || n < -100000000)
      throw JsonScanError(JsonScanError::OutOfRange, field,
                          "date out of range: " + std::string(token));
    return n * 86400 * int64_t(1000000);
  }
  // By magnitude, compared without negating (-n overflows for INT64_MIN).
  auto below = [n](int64_t limit) { return n < limit && n > -limit; };
  if (below(10000000000000LL)) return millis_to_micros(token, field);  // < year 2286 in ms
  if (below(10000000000000000LL)) return n;                            // micros
  return n / 1000;                                                     // nanos
}

static int64_t millis_to_micros(std::string_view token, int field) {
  auto out_of_range = [&] {
    throw JsonScanError(JsonScanError::OutOfRange, field,
                        "timestamp out of range: " + std::string(token));
  };
  const char* end = token.data() + token.size();
  int64_t millis;
  auto [int_end, int_err] = std::from_chars(token.data(), end, millis);
  if (int_err == std::errc() && int_end == end) {
    constexpr int64_t limit = std::numeric_limits<int64_t>::max() / 1000;
    if (millis > limit || millis < -limit) out_of_range();
    return millis * 1000;
  }
  double value;
  auto [dbl_end, dbl_err] = std::from_chars(token.data(), end, value);
  if (dbl_err != std::errc() || dbl_end != end || !std::isfinite(value) ||
      std::fabs(value) > 9.2e15)
    out_of_range();
  return std::llround(value * 1000.0);
}

// ---------------------------------------------------------------------------------------------
// Kernels

namespace {

const json_scan::Kernel* const kKernels[] = {
#if defined(__x86_64__)
    &json_scan::kernel_icelake,
    &json_scan::kernel_haswell,
    &json_scan::kernel_westmere,
#endif
    &json_scan::kernel_builtin,
};

bool runs_here(const json_scan::Kernel& k) {
  const simdjson::implementation* impl = simdjson::get_available_implementations()[k.name];
  return impl && impl->supported_by_runtime_system();
}

// The kernel named `name`, or (null) the one of simdjson's active implementation, or the builtin
// one when there is none for it.
const json_scan::Kernel& pick_kernel(const char* name) {
  std::string wanted = name ? name : simdjson::get_active_implementation()->name();
  for (const json_scan::Kernel* k : kKernels)
    if (wanted == k->name && (k == &json_scan::kernel_builtin || runs_here(*k))) return *k;
  if (name) throw std::invalid_argument("no JSON scanning kernel " + wanted + " for this CPU");
  return json_scan::kernel_builtin;
}

}  // namespace

std::vector<std::string> json_scan_kernels() {
  std::vector<std::string> names;
  for (const json_scan::Kernel* k : kKernels)
    if ((k == &json_scan::kernel_builtin || runs_here(*k)) &&
        std::find(names.begin(), names.end(), k->name) == names.end())
      names.emplace_back(k->name);
  return names;
}

std::string json_scan_kernel() { return pick_kernel(nullptr).name; }

// ---------------------------------------------------------------------------------------------
// JsonScanner

JsonScanner::Parser::Parser(size_t max_depth) : max_depth(max_depth) {}
JsonScanner::Parser::~Parser() = default;

int JsonScanner::Parser::find_field(const JsonScanner& s, std::string_view key, int guess) const {
  if (guess < int(s.fields_.size()) && s.fields_[guess].name == key) return guess;
  auto it = field_index_.find(key);
  return it == field_index_.end() ? -1 : it->second;
}

const JsonScanField& JsonScanner::Parser::field(const JsonScanner& s, int index) {
  return s.fields_[index];
}

void JsonScanner::Parser::begin(JsonScanner& s) {
  for (auto& v : s.values_) v.kind = JsonScanValue::Missing;
  s.arena_.clear();
}

void JsonScanner::Parser::end(JsonScanner& s) {
  for (size_t i = 0; i < s.values_.size(); i++)
    if (s.values_[i].kind == JsonScanValue::Text)
      s.values_[i].text = s.arena_.data() + s.text_offsets_[i];
}

void JsonScanner::Parser::set_missing(JsonScanner& s, int index) {
  s.values_[index].kind = JsonScanValue::Missing;
}

void JsonScanner::Parser::set_text(JsonScanner& s, int index, std::string_view text) {
  s.set_text(index, text);
}

void JsonScanner::Parser::set_epoch(JsonScanner& s, int index, std::string_view token) {
  JsonScanValue& out = s.values_[index];
  out.kind = JsonScanValue::UnixMicros;
  out.unix_micros = epoch_to_micros(s.fields_[index], token, index);
}

std::string& JsonScanner::Parser::literal(JsonScanner& s) { return s.literal_; }

JsonScanner::JsonScanner(std::vector<JsonScanField> fields, size_t max_depth, const char* kernel)
    : fields_(std::move(fields)),
      values_(fields_.size()),
      text_offsets_(fields_.size()),
      parser_(pick_kernel(kernel).json(max_depth)) {
  for (size_t i = 0; i < fields_.size(); i++)
    parser_->field_index_.emplace(fields_[i].name, int(i));
}

JsonScanner::~JsonScanner() = default;

void JsonScanner::scan(const char* data, size_t len) { parser_->scan(*this, data, len); }

// Stores a field's value text in the arena (NUL-terminated), rejecting embedded NULs.
void JsonScanner::set_text(int index, std::string_view text) {
  if (memchr(text.data(), '\0', text.size()))
    throw JsonScanError(JsonScanError::NulCharacter, index,
                        "unsupported Unicode escape sequence: \\u0000 cannot be converted to "
                        "text");
  values_[index].kind = JsonScanValue::Text;
  values_[index].len = text.size();
  text_offsets_[index] = arena_.size();
  arena_.append(text.data(), text.size());
  arena_.push_back('\0');
}

// ---------------------------------------------------------------------------------------------
// DebeziumScanner

DebeziumScanner::Parser::~Parser() = default;

DebeziumScanner::DebeziumScanner(size_t max_depth, const char* kernel)
    : parser_(pick_kernel(kernel).debezium(max_depth)) {}

DebeziumScanner::~DebeziumScanner() = default;

const DebeziumEvent& DebeziumScanner::scan(const char* data, size_t len) {
  parser_->scan(event_, data, len);
  return event_;
}

}  // namespace arroyo
