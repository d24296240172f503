#include "formats/json_scan.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>

namespace arroyo {

namespace od = simdjson::ondemand;
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

// A raw token without the whitespace simdjson leaves after it.
static std::string_view trimmed(std::string_view token) {
  size_t n = token.size();
  while (n > 0 && (token[n - 1] == ' ' || token[n - 1] == '\t' || token[n - 1] == '\n' ||
                   token[n - 1] == '\r'))
    n--;
  return token.substr(0, n);
}

// Walks a value to its end, checking every token, so a document is rejected whenever it is not
// valid JSON, even where the rejected part would have been ignored.
static error_code check_value(od::value value) {
  od::json_type type;
  if (auto err = value.type().get(type)) return err;
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto err = value.get_object().get(object)) return err;
      for (auto entry : object) {
        od::field field;
        std::string_view key;
        if (auto err = std::move(entry).get(field)) return err;
        if (auto err = field.unescaped_key().get(key)) return err;
        if (auto err = check_value(field.value())) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto err = value.get_array().get(array)) return err;
      for (auto entry : array) {
        od::value element;
        if (auto err = std::move(entry).get(element)) return err;
        if (auto err = check_value(element)) return err;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      std::string_view token = trimmed(value.raw_json_token());
      return is_json_number(token.data(), token.size()) ? simdjson::SUCCESS
                                                        : simdjson::NUMBER_ERROR;
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::boolean: {
      bool b;
      return value.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is_null;
      if (auto err = value.is_null().get(is_null)) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// Appends a JSON array as a PostgreSQL array literal (elements quoted for array_in), checking
// it as check_value does. Nested arrays are dimensions; objects (and, with json_elements, every
// element) become their quoted JSON text.
static error_code append_array_literal(od::array array, bool json_elements, std::string& out) {
  auto append_quoted = [&](std::string_view text) {
    out.push_back('"');
    for (char c : text) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  };
  out.push_back('{');
  bool first = true;
  for (auto entry : array) {
    od::value element;
    od::json_type type;
    if (auto err = std::move(entry).get(element)) return err;
    if (auto err = element.type().get(type)) return err;
    if (!first) out.push_back(',');
    first = false;
    std::string_view token = trimmed(element.raw_json_token());
    switch (type) {
      case od::json_type::array: {
        od::array inner;
        if (auto err = element.get_array().get(inner)) return err;
        if (auto err = append_array_literal(inner, json_elements, out)) return err;
        break;
      }
      case od::json_type::string: {
        if (json_elements) {
          if (auto err = check_value(element)) return err;
          append_quoted(token);
          break;
        }
        std::string_view text;
        if (auto err = element.get_string().get(text)) return err;
        append_quoted(text);
        break;
      }
      case od::json_type::null:
        if (auto err = check_value(element)) return err;
        out += "NULL";  // SQL NULL, as a top-level null is, whatever the element type
        break;
      case od::json_type::object: {
        const char* end = nullptr;
        if (auto err = check_value(element)) return err;
        if (auto err = element.current_location().get(end)) return err;
        append_quoted(trimmed(std::string_view(token.data(), size_t(end - token.data()))));
        break;
      }
      default:  // numbers and booleans: their JSON text
        if (auto err = check_value(element)) return err;
        out.append(token.data(), token.size());
    }
  }
  out.push_back('}');
  return simdjson::SUCCESS;
}

struct JsonScanner::Parser {
  od::parser parser;
  std::unique_ptr<char[]> padded;  // the document copied with simdjson's padding after it
  size_t padded_capacity = 0;
  std::unordered_map<std::string_view, int> field_index;
  int next_guess = 0;  // fields usually arrive in column order: try the next one first

  void read_field(JsonScanner& scanner, int index, od::value value);
};

// Rejects a document with a message for the simdjson error that stopped it.
[[noreturn]] static void syntax_error(error_code err) {
  const char* why;
  switch (err) {
    case simdjson::NUMBER_ERROR: why = "invalid number"; break;
    case simdjson::STRING_ERROR: why = "invalid string or escape sequence"; break;
    case simdjson::UNCLOSED_STRING: why = "unterminated string"; break;
    case simdjson::UTF8_ERROR: why = "invalid UTF-8"; break;
    case simdjson::EMPTY: why = "empty document"; break;
    case simdjson::DEPTH_ERROR: why = "nested too deeply"; break;
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
      throw JsonScanError(JsonScanError::OutOfRange, field, "date out of range: " + std::string(token));
    return n * 86400 * int64_t(1000000);
  }
  int64_t magnitude = n < 0 ? -n : n;
  if (magnitude < 10000000000000LL) return millis_to_micros(token, field);  // < year 2286 in ms
  if (magnitude < 10000000000000000LL) return n;                             // micros
  return n / 1000;                                                          // nanos
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

JsonScanner::JsonScanner(std::vector<JsonScanField> fields)
    : fields_(std::move(fields)), values_(fields_.size()), text_offsets_(fields_.size()),
      parser_(std::make_unique<Parser>()) {
  for (size_t i = 0; i < fields_.size(); i++)
    parser_->field_index.emplace(fields_[i].name, int(i));
}

JsonScanner::~JsonScanner() = default;

void JsonScanner::scan(const char* data, size_t len) {
  Parser& p = *parser_;
  for (auto& v : values_) v.kind = JsonScanValue::Missing;
  arena_.clear();
  p.next_guess = 0;

  size_t needed = len + simdjson::SIMDJSON_PADDING;
  if (needed > p.padded_capacity) {
    p.padded_capacity = std::max(needed, 2 * p.padded_capacity);
    p.padded.reset(new char[p.padded_capacity]);
  }
  memcpy(p.padded.get(), data, len);
  memset(p.padded.get() + len, 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  od::object object;
  if (auto err = p.parser.iterate(p.padded.get(), len, p.padded_capacity).get(doc))
    syntax_error(err);
  if (auto err = doc.get_object().get(object)) {
    if (err != simdjson::INCORRECT_TYPE) syntax_error(err);
    throw JsonScanError(JsonScanError::NotObject, -1, "JSON document is not an object");
  }
  for (auto entry : object) {
    od::field field;
    std::string_view key;
    if (auto err = std::move(entry).get(field)) syntax_error(err);
    if (auto err = field.unescaped_key().get(key)) syntax_error(err);
    int index = -1;
    if (p.next_guess < int(fields_.size()) && fields_[p.next_guess].name == key) {
      index = p.next_guess;
    } else {
      auto it = p.field_index.find(key);
      if (it != p.field_index.end()) index = it->second;
    }
    if (index < 0) {
      if (auto err = check_value(field.value())) syntax_error(err);
      continue;
    }
    p.next_guess = index + 1;
    p.read_field(*this, index, field.value());
  }
  // Anything after the object (a second document, stray characters) makes the input invalid.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS)
    throw JsonScanError(JsonScanError::Syntax, -1, "malformed JSON: content after the object");

  for (size_t i = 0; i < values_.size(); i++)
    if (values_[i].kind == JsonScanValue::Text) values_[i].text = arena_.data() + text_offsets_[i];
}

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

// Reads the value of a wanted field in the form its JsonScanField asks for.
void JsonScanner::Parser::read_field(JsonScanner& s, int index, od::value value) {
  const JsonScanField& spec = s.fields_[index];
  JsonScanValue& out = s.values_[index];
  od::json_type type;
  if (auto err = value.type().get(type)) syntax_error(err);
  std::string_view token = trimmed(value.raw_json_token());
  switch (type) {
    case od::json_type::null:
      if (auto err = check_value(value)) syntax_error(err);
      out.kind = JsonScanValue::Missing;
      return;
    case od::json_type::boolean: {
      bool b;
      if (auto err = value.get_bool().get(b)) syntax_error(err);
      s.set_text(index, b ? "true" : "false");
      return;
    }
    case od::json_type::number:
      if (!is_json_number(token.data(), token.size())) syntax_error(simdjson::NUMBER_ERROR);
      if (spec.epoch_millis || spec.epoch_auto || spec.epoch_days) {
        out.kind = JsonScanValue::UnixMicros;
        out.unix_micros = epoch_to_micros(spec, token, index);
      } else {
        s.set_text(index, token);
      }
      return;
    case od::json_type::string: {
      std::string_view text;
      if (auto err = value.get_string().get(text)) syntax_error(err);
      s.set_text(index, spec.raw_json ? token : text);
      return;
    }
    case od::json_type::array:
      if (spec.array_literal) {
        od::array array;
        s.literal_.clear();
        if (auto err = value.get_array().get(array)) syntax_error(err);
        if (auto err = append_array_literal(array, spec.json_elements, s.literal_))
          syntax_error(err);
        s.set_text(index, s.literal_);
        return;
      }
      [[fallthrough]];
    case od::json_type::object: {
      const char* start = token.data();
      if (auto err = check_value(value)) syntax_error(err);
      const char* end = nullptr;
      if (auto err = value.current_location().get(end)) syntax_error(err);
      s.set_text(index, trimmed(std::string_view(start, size_t(end - start))));
      return;
    }
  }
}

}  // namespace arroyo
