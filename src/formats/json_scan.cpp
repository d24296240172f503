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

// Walks JSON values without recursion: the containers open around the current value are kept
// in a vector, not on the C stack, so a document's nesting costs heap memory (bounded by the
// document's size) and never stack. Containers nested deeper than `max_depth` (counting the
// document's own object as 1) stop the walk with DEPTH_ERROR.
class JsonWalker {
 public:
  // Walks `value`, nested in `depth` containers, to its end, checking every token, so a
  // document is rejected whenever it is not valid JSON, even where the rejected part would
  // have been ignored.
  error_code check(od::value value, size_t depth) { return walk(value, depth, nullptr, false); }

  // Appends a JSON array as a PostgreSQL array literal (elements quoted for array_in), checking
  // it as check() does. Nested arrays are dimensions; objects (and, with json_elements, every
  // element) become their quoted JSON text.
  error_code array_literal(od::value array, size_t depth, bool json_elements, std::string& out) {
    return walk(array, depth, &out, json_elements);
  }

  size_t max_depth = kJsonDefaultMaxDepth;

 private:
  struct Frame {
    bool is_object;
    bool started;           // an element was taken: advance before taking the next
    bool literal;           // an array written as a dimension of the literal
    const char* start;      // an object that is an element of the literal: where it starts
    od::object_iterator object;
    od::array_iterator array;
  };

  static void append_quoted(std::string& out, std::string_view text) {
    out.push_back('"');
    for (char c : text) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }

  // Opens `value`, or checks it if it is a scalar. `literal`: `value` is an element of the
  // array literal being written (or its outermost array).
  error_code enter(od::value value, size_t depth, std::string* literal, bool json_elements) {
    od::json_type type;
    if (auto err = value.type().get(type)) return err;
    std::string_view token = trimmed(value.raw_json_token());
    switch (type) {
      case od::json_type::object:
      case od::json_type::array: {
        if (depth + stack_.size() + 1 > max_depth) return simdjson::DEPTH_ERROR;
        Frame f{type == od::json_type::object, false, false, nullptr, {}, {}};
        if (f.is_object) {
          od::object object;
          if (auto err = value.get_object().get(object)) return err;
          if (auto err = object.begin().get(f.object)) return err;
          f.start = literal ? token.data() : nullptr;
        } else {
          od::array array;
          if (auto err = value.get_array().get(array)) return err;
          if (auto err = array.begin().get(f.array)) return err;
          f.literal = literal != nullptr;
          if (literal) literal->push_back('{');
        }
        stack_.push_back(f);
        return simdjson::SUCCESS;
      }
      case od::json_type::number:
        if (!is_json_number(token.data(), token.size())) return simdjson::NUMBER_ERROR;
        if (literal) literal->append(token.data(), token.size());
        return simdjson::SUCCESS;
      case od::json_type::string: {
        std::string_view text;
        if (auto err = value.get_string().get(text)) return err;
        if (literal) append_quoted(*literal, json_elements ? token : text);
        return simdjson::SUCCESS;
      }
      case od::json_type::boolean: {
        bool b;
        if (auto err = value.get_bool().get(b)) return err;
        if (literal) literal->append(b ? "true" : "false");
        return simdjson::SUCCESS;
      }
      case od::json_type::null: {
        bool is_null;
        if (auto err = value.is_null().get(is_null)) return err;
        if (!is_null) return simdjson::N_ATOM_ERROR;
        if (literal) literal->append("NULL");  // SQL NULL, whatever the element type
        return simdjson::SUCCESS;
      }
    }
    return simdjson::INCORRECT_TYPE;
  }

  error_code walk(od::value root, size_t depth, std::string* literal, bool json_elements) {
    stack_.clear();
    if (auto err = enter(root, depth, literal, json_elements)) return err;
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      bool had_element = f.started;
      f.started = true;
      bool more;
      if (f.is_object) {
        if (had_element) ++f.object;
        more = f.object != od::object_iterator();
      } else {
        if (had_element) ++f.array;
        more = f.array != od::array_iterator();
      }
      if (!more) {  // the container is closed
        Frame done = f;
        stack_.pop_back();
        if (done.literal) literal->push_back('}');
        if (done.start) {
          const char* end = nullptr;
          if (auto err = root.current_location().get(end)) return err;
          append_quoted(*literal, trimmed(std::string_view(done.start, size_t(end - done.start))));
        }
        continue;
      }
      od::value element;
      if (f.is_object) {
        od::field field;
        std::string_view key;
        if (auto err = (*f.object).get(field)) return err;
        if (auto err = field.unescaped_key().get(key)) return err;
        element = field.value();
      } else {
        if (auto err = (*f.array).get(element)) return err;
      }
      // Elements of the literal: those of its arrays, not of objects inside it.
      std::string* element_literal = f.literal ? literal : nullptr;
      if (element_literal && had_element) element_literal->push_back(',');
      if (auto err = enter(element, depth, element_literal, json_elements)) return err;
    }
    return simdjson::SUCCESS;
  }

  std::vector<Frame> stack_;
};

// A copy of the input with simdjson's padding after it, reused from document to document.
struct PaddedInput {
  std::unique_ptr<char[]> padded;
  size_t capacity = 0;

  simdjson::simdjson_result<od::document> iterate(od::parser& parser, const char* data,
                                                  size_t len) {
    size_t needed = len + simdjson::SIMDJSON_PADDING;
    if (needed > capacity) {
      capacity = std::max(needed, 2 * capacity);
      padded.reset(new char[capacity]);
    }
    memcpy(padded.get(), data, len);
    memset(padded.get() + len, 0, simdjson::SIMDJSON_PADDING);
    return parser.iterate(padded.get(), len, capacity);
  }
};

struct JsonScanner::Parser {
  od::parser parser;
  PaddedInput input;
  std::unordered_map<std::string_view, int> field_index;
  int next_guess = 0;  // fields usually arrive in column order: try the next one first
  JsonWalker walker;

  void read_field(JsonScanner& scanner, int index, od::value value);
};

// Rejects a document with a message for the simdjson error that stopped it (DEPTH_ERROR: a
// JsonWalker's limit, `max_depth`).
[[noreturn]] static void syntax_error(error_code err, size_t max_depth = 0, int field = -1) {
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
  // By magnitude, compared without negating (-n overflows for INT64_MIN).
  auto below = [n](int64_t limit) { return n < limit && n > -limit; };
  if (below(10000000000000LL)) return millis_to_micros(token, field);  // < year 2286 in ms
  if (below(10000000000000000LL)) return n;                             // micros
  return n / 1000;                                                      // nanos
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

JsonScanner::JsonScanner(std::vector<JsonScanField> fields, size_t max_depth)
    : fields_(std::move(fields)), values_(fields_.size()), text_offsets_(fields_.size()),
      parser_(std::make_unique<Parser>()) {
  parser_->walker.max_depth = max_depth;
  for (size_t i = 0; i < fields_.size(); i++)
    parser_->field_index.emplace(fields_[i].name, int(i));
}

JsonScanner::~JsonScanner() = default;

void JsonScanner::scan(const char* data, size_t len) {
  Parser& p = *parser_;
  for (auto& v : values_) v.kind = JsonScanValue::Missing;
  arena_.clear();
  p.next_guess = 0;

  od::document doc;
  od::object object;
  if (auto err = p.input.iterate(p.parser, data, len).get(doc)) syntax_error(err);
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
      if (auto err = p.walker.check(field.value(), 1)) syntax_error(err, p.walker.max_depth);
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
      if (auto err = walker.check(value, 1)) syntax_error(err);
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
        s.literal_.clear();
        if (auto err = walker.array_literal(value, 1, spec.json_elements, s.literal_))
          syntax_error(err, walker.max_depth, index);
        s.set_text(index, s.literal_);
        return;
      }
      [[fallthrough]];
    case od::json_type::object: {
      const char* start = token.data();
      if (auto err = walker.check(value, 1)) syntax_error(err, walker.max_depth, index);
      const char* end = nullptr;
      if (auto err = value.current_location().get(end)) syntax_error(err);
      s.set_text(index, trimmed(std::string_view(start, size_t(end - start))));
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// DebeziumScanner

struct DebeziumScanner::Parser {
  od::parser parser;
  PaddedInput input;
  JsonWalker walker;

  // The envelope fields of one object level (the message, or JsonConverter's payload).
  struct Level {
    bool has_op = false;
    std::string_view op, before, after;
  };

  // Reads an envelope field's value into `level` if `key` is one; otherwise just checks it.
  void read(std::string_view key, od::value value, size_t depth, Level& level) {
    std::string_view* object_text = key == "before" ? &level.before
                                    : key == "after" ? &level.after
                                                     : nullptr;
    od::json_type type;
    if (auto err = value.type().get(type)) syntax_error(err);
    if (key == "op" && type == od::json_type::string) {
      if (auto err = value.get_string().get(level.op)) syntax_error(err);
      level.has_op = true;
      return;
    }
    if (key == "op") level.has_op = false;  // a later "op" replaces an earlier one
    const char* start = value.raw_json_token().data();
    if (auto err = walker.check(value, depth)) syntax_error(err, walker.max_depth);
    if (!object_text) return;
    *object_text = std::string_view();
    if (type != od::json_type::object) return;
    const char* end = nullptr;
    if (auto err = value.current_location().get(end)) syntax_error(err);
    *object_text = trimmed(std::string_view(start, size_t(end - start)));
  }
};

DebeziumScanner::DebeziumScanner(size_t max_depth) : parser_(std::make_unique<Parser>()) {
  parser_->walker.max_depth = max_depth;
}

DebeziumScanner::~DebeziumScanner() = default;

const DebeziumEvent& DebeziumScanner::scan(const char* data, size_t len) {
  Parser& p = *parser_;
  event_ = DebeziumEvent();
  od::document doc;
  if (auto err = p.input.iterate(p.parser, data, len).get(doc)) syntax_error(err);
  od::json_type type;
  if (auto err = doc.type().get(type)) syntax_error(err);
  if (type != od::json_type::object) {
    // Checks the whole value (a scalar document is checked by reading it).
    od::value value;
    bool is_null = false;
    if (type == od::json_type::null) {
      if (auto err = doc.is_null().get(is_null)) syntax_error(err);
      if (!is_null) syntax_error(simdjson::N_ATOM_ERROR);
    } else if (type == od::json_type::array) {
      od::array array;
      if (auto err = doc.get_array().get(array)) syntax_error(err);
      for (auto entry : array) {
        if (auto err = std::move(entry).get(value)) syntax_error(err);
        if (auto err = p.walker.check(value, 1)) syntax_error(err, p.walker.max_depth);
      }
    } else if (type == od::json_type::string) {
      std::string_view text;
      if (auto err = doc.get_string().get(text)) syntax_error(err);
    } else if (type == od::json_type::boolean) {
      bool b;
      if (auto err = doc.get_bool().get(b)) syntax_error(err);
    } else {
      // A number is the whole message (reading its token does not move past it).
      std::string_view token = trimmed(std::string_view(data, len));
      while (!token.empty() && strchr(" \t\n\r", token.front())) token.remove_prefix(1);
      if (!is_json_number(token.data(), token.size())) syntax_error(simdjson::NUMBER_ERROR);
    }
    const char* trailing = nullptr;
    if (type != od::json_type::number && doc.current_location().get(trailing) == simdjson::SUCCESS)
      throw JsonScanError(JsonScanError::Syntax, -1, "malformed JSON: content after the value");
    event_.tombstone = is_null;
    event_.not_object = !is_null;
    return event_;
  }

  od::object object;
  if (auto err = doc.get_object().get(object)) syntax_error(err);
  Parser::Level top, payload;
  bool has_schema = false, has_payload = false;
  od::json_type payload_type = od::json_type::null;
  for (auto entry : object) {
    od::field field;
    std::string_view key;
    if (auto err = std::move(entry).get(field)) syntax_error(err);
    if (auto err = field.unescaped_key().get(key)) syntax_error(err);
    od::value value = field.value();
    if (key == "schema") has_schema = true;
    if (key != "payload") {
      p.read(key, value, 1, top);
      continue;
    }
    has_payload = true;
    payload = Parser::Level();
    if (auto err = value.type().get(payload_type)) syntax_error(err);
    if (payload_type != od::json_type::object) {
      if (auto err = p.walker.check(value, 1)) syntax_error(err, p.walker.max_depth);
      continue;
    }
    if (p.walker.max_depth < 2) syntax_error(simdjson::DEPTH_ERROR, p.walker.max_depth);
    od::object inner;
    if (auto err = value.get_object().get(inner)) syntax_error(err);
    for (auto inner_entry : inner) {
      od::field inner_field;
      std::string_view inner_key;
      if (auto err = std::move(inner_entry).get(inner_field)) syntax_error(err);
      if (auto err = inner_field.unescaped_key().get(inner_key)) syntax_error(err);
      p.read(inner_key, inner_field.value(), 2, payload);
    }
  }
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS)
    throw JsonScanError(JsonScanError::Syntax, -1, "malformed JSON: content after the object");

  const Parser::Level* level = &top;
  if (has_schema && has_payload) {
    if (payload_type == od::json_type::null) {
      event_.tombstone = true;  // JsonConverter's tombstone
      return event_;
    }
    if (payload_type != od::json_type::object) {
      event_.not_object = true;
      return event_;
    }
    level = &payload;
  }
  event_.has_op = level->has_op;
  event_.op = level->op;
  event_.before = level->before;
  event_.after = level->after;
  return event_;
}

}  // namespace arroyo
