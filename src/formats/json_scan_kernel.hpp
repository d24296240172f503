// The simdjson-dependent half of JsonScanner and DebeziumScanner, compiled once per simdjson
// implementation (see json_scan_internal.hpp). Included only by json_scan_NAME.cpp, which
// defines, before any #include:
//   SIMDJSON_BUILTIN_IMPLEMENTATION  the implementation (unless the build's flags choose it)
//   ARROYO_JSON_KERNEL_NS            this kernel's namespace, json_kernel_NAME
//   ARROYO_JSON_KERNEL_ENTRY         its json_scan::Kernel, kernel_NAME
// Everything here is in an unnamed namespace inside arroyo::ARROYO_JSON_KERNEL_NS, except the
// Kernel entry.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "formats/json_scan_internal.hpp"

#define ARROYO_JSON_STR2(x) #x
#define ARROYO_JSON_STR(x) ARROYO_JSON_STR2(x)

namespace arroyo {
namespace ARROYO_JSON_KERNEL_NS {
namespace {

namespace od = simdjson::SIMDJSON_BUILTIN_IMPLEMENTATION::ondemand;
using json_scan::syntax_error;
using simdjson::error_code;

// A raw token without the whitespace simdjson leaves after it.
std::string_view trimmed(std::string_view token) {
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
  explicit JsonWalker(size_t max_depth) : max_depth(max_depth) {}

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

  size_t max_depth;

 private:
  struct Frame {
    bool is_object;
    bool started;       // an element was taken: advance before taking the next
    bool literal;       // an array written as a dimension of the literal
    const char* start;  // an object that is an element of the literal: where it starts
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

struct JsonParser final : JsonScanner::Parser {
  explicit JsonParser(size_t max_depth) : JsonScanner::Parser(max_depth), walker(max_depth) {}

  od::parser parser;
  PaddedInput input;
  JsonWalker walker;

  void scan(JsonScanner& s, const char* data, size_t len) override;
  void read_field(JsonScanner& s, int index, od::value value);
};

void JsonParser::scan(JsonScanner& s, const char* data, size_t len) {
  begin(s);
  int next_guess = 0;  // fields usually arrive in column order: try the next one first

  od::document doc;
  od::object object;
  if (auto err = input.iterate(parser, data, len).get(doc)) syntax_error(err);
  if (auto err = doc.get_object().get(object)) {
    if (err != simdjson::INCORRECT_TYPE) syntax_error(err);
    json_scan::not_object();
  }
  for (auto entry : object) {
    od::field field;
    std::string_view key;
    if (auto err = std::move(entry).get(field)) syntax_error(err);
    if (auto err = field.unescaped_key().get(key)) syntax_error(err);
    int index = find_field(s, key, next_guess);
    if (index < 0) {
      if (auto err = walker.check(field.value(), 1)) syntax_error(err, max_depth);
      continue;
    }
    next_guess = index + 1;
    read_field(s, index, field.value());
  }
  // Anything after the object (a second document, stray characters) makes the input invalid.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS)
    json_scan::malformed("malformed JSON: content after the object");
  end(s);
}

// Reads the value of a wanted field in the form its JsonScanField asks for.
void JsonParser::read_field(JsonScanner& s, int index, od::value value) {
  const JsonScanField& spec = field(s, index);
  od::json_type type;
  if (auto err = value.type().get(type)) syntax_error(err);
  std::string_view token = trimmed(value.raw_json_token());
  switch (type) {
    case od::json_type::null:
      if (auto err = walker.check(value, 1)) syntax_error(err);
      set_missing(s, index);
      return;
    case od::json_type::boolean: {
      bool b;
      if (auto err = value.get_bool().get(b)) syntax_error(err);
      set_text(s, index, b ? "true" : "false");
      return;
    }
    case od::json_type::number:
      if (!is_json_number(token.data(), token.size())) syntax_error(simdjson::NUMBER_ERROR);
      if (spec.epoch_millis || spec.epoch_auto || spec.epoch_days)
        set_epoch(s, index, token);
      else
        set_text(s, index, token);
      return;
    case od::json_type::string: {
      std::string_view text;
      if (auto err = value.get_string().get(text)) syntax_error(err);
      set_text(s, index, spec.raw_json ? token : text);
      return;
    }
    case od::json_type::array:
      if (spec.array_literal) {
        std::string& out = literal(s);
        out.clear();
        if (auto err = walker.array_literal(value, 1, spec.json_elements, out))
          syntax_error(err, max_depth, index);
        set_text(s, index, out);
        return;
      }
      [[fallthrough]];
    case od::json_type::object: {
      const char* start = token.data();
      if (auto err = walker.check(value, 1)) syntax_error(err, max_depth, index);
      const char* end = nullptr;
      if (auto err = value.current_location().get(end)) syntax_error(err);
      set_text(s, index, trimmed(std::string_view(start, size_t(end - start))));
      return;
    }
  }
}

struct DebeziumParser final : DebeziumScanner::Parser {
  explicit DebeziumParser(size_t max_depth)
      : DebeziumScanner::Parser(max_depth), walker(max_depth) {}

  od::parser parser;
  PaddedInput input;
  JsonWalker walker;

  void scan(DebeziumEvent& event, const char* data, size_t len) override;

  // The envelope fields of one object level (the message, or JsonConverter's payload).
  struct Level {
    bool has_op = false;
    std::string_view op, before, after;
  };

  // Reads an envelope field's value into `level` if `key` is one; otherwise just checks it.
  void read(std::string_view key, od::value value, size_t depth, Level& level) {
    std::string_view* object_text = key == "before"  ? &level.before
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
    if (auto err = walker.check(value, depth)) syntax_error(err, max_depth);
    if (!object_text) return;
    *object_text = std::string_view();
    if (type != od::json_type::object) return;
    const char* end = nullptr;
    if (auto err = value.current_location().get(end)) syntax_error(err);
    *object_text = trimmed(std::string_view(start, size_t(end - start)));
  }
};

void DebeziumParser::scan(DebeziumEvent& event, const char* data, size_t len) {
  DebeziumParser& p = *this;
  event = DebeziumEvent();
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
        if (auto err = p.walker.check(value, 1)) syntax_error(err, max_depth);
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
      json_scan::malformed("malformed JSON: content after the value");
    event.tombstone = is_null;
    event.not_object = !is_null;
    return;
  }

  od::object object;
  if (auto err = doc.get_object().get(object)) syntax_error(err);
  DebeziumParser::Level top, payload;
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
    payload = DebeziumParser::Level();
    if (auto err = value.type().get(payload_type)) syntax_error(err);
    if (payload_type != od::json_type::object) {
      if (auto err = p.walker.check(value, 1)) syntax_error(err, max_depth);
      continue;
    }
    if (max_depth < 2) syntax_error(simdjson::DEPTH_ERROR, max_depth);
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
    json_scan::malformed("malformed JSON: content after the object");

  const DebeziumParser::Level* level = &top;
  if (has_schema && has_payload) {
    if (payload_type == od::json_type::null) {
      event.tombstone = true;  // JsonConverter's tombstone
      return;
    }
    if (payload_type != od::json_type::object) {
      event.not_object = true;
      return;
    }
    level = &payload;
  }
  event.has_op = level->has_op;
  event.op = level->op;
  event.before = level->before;
  event.after = level->after;
}

JsonScanner::Parser* make_json(size_t max_depth) { return new JsonParser(max_depth); }
DebeziumScanner::Parser* make_debezium(size_t max_depth) { return new DebeziumParser(max_depth); }

}  // namespace
}  // namespace ARROYO_JSON_KERNEL_NS

namespace json_scan {
extern const Kernel ARROYO_JSON_KERNEL_ENTRY = {ARROYO_JSON_STR(SIMDJSON_BUILTIN_IMPLEMENTATION),
                                                ARROYO_JSON_KERNEL_NS::make_json,
                                                ARROYO_JSON_KERNEL_NS::make_debezium};
}  // namespace json_scan
}  // namespace arroyo
