// JsonScanner and DebeziumScanner (src/formats/json_scan*.cpp): which values a document yields
// for the wanted fields, in which form, and which documents are rejected with which error. Every
// case runs with each scanning kernel this CPU has (json_scan_kernels()): they must agree.
#include "formats/json_scan.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "unit.hpp"

using namespace arroyo;

namespace {

JsonScanField field(const char* name) {
  JsonScanField f;
  f.name = name;
  return f;
}

// What a scan gave for one field: nullopt for Missing, else the text (or, for an epoch field,
// the microseconds as decimal text, prefixed by "us:").
using Got = std::optional<std::string>;

Got got(const JsonScanner& s, size_t i) {
  const JsonScanValue& v = s.values()[i];
  switch (v.kind) {
    case JsonScanValue::Missing: return std::nullopt;
    case JsonScanValue::Text:
      if (strlen(v.text) != v.len) return std::string("<length mismatch>");
      return std::string(v.text, v.len);
    case JsonScanValue::UnixMicros: return "us:" + std::to_string(v.unix_micros);
  }
  return std::string("<bad kind>");
}

// Scans `doc` with every kernel and returns field `i`'s value, failing the case if two kernels
// disagree or one throws.
Got scan_one(const std::vector<JsonScanField>& fields, const std::string& doc, size_t i = 0,
             size_t max_depth = kJsonDefaultMaxDepth) {
  std::optional<Got> first;
  for (const std::string& kernel : json_scan_kernels()) {
    JsonScanner s(fields, max_depth, kernel.c_str());
    try {
      s.scan(doc.data(), doc.size());
    } catch (const JsonScanError& e) {
      unit::fail(__FILE__, __LINE__, "kernel " + kernel + " rejected " + doc + ": " + e.what());
      return std::nullopt;
    }
    Got g = got(s, i);
    if (!first)
      first = g;
    else if (*first != g)
      unit::fail(__FILE__, __LINE__, "kernel " + kernel + " disagrees on " + doc);
  }
  return *first;
}

struct Rejection {
  JsonScanError::Reason reason;
  int field;
  std::string message;
  bool operator==(const Rejection& o) const {
    return reason == o.reason && field == o.field && message == o.message;
  }
};

std::ostream& operator<<(std::ostream& out, const Rejection& r) {
  return out << "{reason " << int(r.reason) << ", field " << r.field << ", \"" << r.message
             << "\"}";
}

// How every kernel rejects `doc` (they must agree); reason -1 if one accepted it.
Rejection reject(const std::vector<JsonScanField>& fields, const std::string& doc,
                 size_t max_depth = kJsonDefaultMaxDepth) {
  std::optional<Rejection> first;
  for (const std::string& kernel : json_scan_kernels()) {
    JsonScanner s(fields, max_depth, kernel.c_str());
    Rejection r{JsonScanError::Reason(-1), -2, "accepted"};
    try {
      s.scan(doc.data(), doc.size());
    } catch (const JsonScanError& e) {
      r = {e.reason, e.field, e.what()};
    }
    if (!first)
      first = r;
    else if (!(*first == r))
      unit::fail(__FILE__, __LINE__, "kernel " + kernel + " rejects " + doc + " differently");
  }
  return *first;
}

const std::vector<JsonScanField> kAbc = {field("a"), field("b"), field("c")};

}  // namespace

TEST(kernels_include_the_builtin_one) {
  std::vector<std::string> kernels = json_scan_kernels();
  REQUIRE(!kernels.empty());
  CHECK(std::find(kernels.begin(), kernels.end(), json_scan_kernel()) != kernels.end());
  CHECK_THROWS(JsonScanner({field("a")}, kJsonDefaultMaxDepth, "no_such_kernel"),
               std::invalid_argument, "no JSON scanning kernel no_such_kernel for this CPU");
}

TEST(scalars_as_text) {
  const std::string doc = R"({"a": "x\"y\u00e9", "b": 12.50e1 , "c": true, "d": [1, {"e": 2}]})";
  CHECK_EQ(scan_one(kAbc, doc, 0), Got("x\"y\xc3\xa9"));
  CHECK_EQ(scan_one(kAbc, doc, 1), Got("12.50e1"));  // the number's own text, trimmed
  CHECK_EQ(scan_one(kAbc, doc, 2), Got("true"));
  CHECK_EQ(scan_one(kAbc, R"({"c": false})", 2), Got("false"));
}

TEST(missing_null_and_repeated_fields) {
  CHECK_EQ(scan_one(kAbc, R"({"b": 1})", 0), Got());
  CHECK_EQ(scan_one(kAbc, R"({"a": null})", 0), Got());
  CHECK_EQ(scan_one(kAbc, R"({"a": 1, "a": 2})", 0), Got("2"));
  CHECK_EQ(scan_one(kAbc, R"({"a": 1, "a": null})", 0), Got());
  // Keys are compared unescaped and exactly.
  CHECK_EQ(scan_one(kAbc, R"({"\u0061": 7})", 0), Got("7"));
  CHECK_EQ(scan_one(kAbc, R"({"A": 7})", 0), Got());
}

TEST(values_do_not_leak_into_the_next_document) {
  JsonScanner s(kAbc);
  std::string one = R"({"a": "first", "b": "second"})", two = R"({"b": "third"})";
  s.scan(one.data(), one.size());
  CHECK_EQ(got(s, 0), Got("first"));
  s.scan(two.data(), two.size());
  CHECK_EQ(got(s, 0), Got());
  CHECK_EQ(got(s, 1), Got("third"));
  CHECK_EQ(s.field_count(), size_t(3));
}

TEST(objects_and_arrays_as_json_text) {
  CHECK_EQ(scan_one(kAbc, R"({"a": {"k": [1, 2] }  })"), Got(R"({"k": [1, 2] })"));
  CHECK_EQ(scan_one(kAbc, R"({"a": [ "x" ,null]})"), Got(R"([ "x" ,null])"));
  JsonScanField raw = field("a");
  raw.raw_json = true;
  CHECK_EQ(scan_one({raw}, R"({"a": "q\"\n"})"), Got(R"("q\"\n")"));
  CHECK_EQ(scan_one({raw}, R"({"a": 1.0})"), Got("1.0"));
}

TEST(arrays_as_postgresql_array_literals) {
  JsonScanField arr = field("a");
  arr.array_literal = true;
  CHECK_EQ(scan_one({arr}, R"({"a": [[1, 2], [3, 4]]})"), Got("{{1,2},{3,4}}"));
  CHECK_EQ(scan_one({arr}, R"({"a": ["a b", "q\"x\\", null, true, {"k": 1}]})"),
           Got(R"({"a b","q\"x\\",NULL,true,"{\"k\": 1}"})"));
  CHECK_EQ(scan_one({arr}, R"({"a": []})"), Got("{}"));
  arr.json_elements = true;
  CHECK_EQ(scan_one({arr}, R"({"a": ["a", 1, null]})"), Got(R"({"\"a\"",1,NULL})"));
}

TEST(epoch_fields) {
  JsonScanField ms = field("a");
  ms.epoch_millis = true;
  CHECK_EQ(scan_one({ms}, R"({"a": 1700000000123})"), Got("us:1700000000123000"));
  CHECK_EQ(scan_one({ms}, R"({"a": -1.5})"), Got("us:-1500"));
  CHECK_EQ(scan_one({ms}, R"({"a": "2026-01-01"})"), Got("2026-01-01"));  // strings stay text
  CHECK_EQ(reject({ms}, R"({"a": 1e20})"),
           (Rejection{JsonScanError::OutOfRange, 0, "timestamp out of range: 1e20"}));
  CHECK_EQ(reject({ms}, R"({"a": 9223372036854776})"),
           (Rejection{JsonScanError::OutOfRange, 0, "timestamp out of range: 9223372036854776"}));

  JsonScanField any = field("a");
  any.epoch_auto = true;  // Debezium: millis, micros or nanos by magnitude
  CHECK_EQ(scan_one({any}, R"({"a": 1700000000123})"), Got("us:1700000000123000"));
  CHECK_EQ(scan_one({any}, R"({"a": 1700000000123456})"), Got("us:1700000000123456"));
  CHECK_EQ(scan_one({any}, R"({"a": 1700000000123456789})"), Got("us:1700000000123456"));
  CHECK_EQ(reject({any}, R"({"a": 1.5})"),
           (Rejection{JsonScanError::OutOfRange, 0, "expected an integer epoch value: 1.5"}));

  JsonScanField days = field("a");
  days.epoch_days = true;
  CHECK_EQ(scan_one({days}, R"({"a": 20454})"), Got("us:1767225600000000"));  // 2026-01-01
  CHECK_EQ(scan_one({days}, R"({"a": -1})"), Got("us:-86400000000"));
  CHECK_EQ(reject({days}, R"({"a": 100000001})"),
           (Rejection{JsonScanError::OutOfRange, 0, "date out of range: 100000001"}));
}

TEST(malformed_documents) {
  auto syntax = [](const char* message) { return Rejection{JsonScanError::Syntax, -1, message}; };
  CHECK_EQ(reject(kAbc, R"([1, 2])"),
           (Rejection{JsonScanError::NotObject, -1, "JSON document is not an object"}));
  CHECK_EQ(reject(kAbc, R"("a")"),
           (Rejection{JsonScanError::NotObject, -1, "JSON document is not an object"}));
  CHECK_EQ(reject(kAbc, ""), syntax("malformed JSON: empty document"));
  CHECK_EQ(reject(kAbc, R"({"a": 1} {"a": 2})"),
           syntax("malformed JSON: content after the object"));
  CHECK_EQ(reject(kAbc, R"({"a": 01})"), syntax("malformed JSON: invalid number"));
  CHECK_EQ(reject(kAbc, R"({"z": 01})"), syntax("malformed JSON: invalid number"));
  CHECK_EQ(reject(kAbc, R"({"a": tru})"), syntax("malformed JSON: invalid literal"));
  // Unwanted fields are checked as thoroughly as wanted ones.
  CHECK_EQ(reject(kAbc, R"({"z": [1, nul]})"), syntax("malformed JSON: invalid literal"));
  CHECK_EQ(reject(kAbc, "{\"a\": \"\xff\"}"), syntax("malformed JSON: invalid UTF-8"));
}

TEST(nul_characters_only_in_wanted_fields) {
  CHECK_EQ(reject(kAbc, R"({"b": "x\u0000y"})"),
           (Rejection{JsonScanError::NulCharacter, 1,
                      "unsupported Unicode escape sequence: \\u0000 cannot be converted to text"}));
  CHECK_EQ(scan_one(kAbc, R"({"z": "x\u0000y", "a": 1})"), Got("1"));
}

TEST(nesting_limit) {
  const std::string deep = R"({"a": {"b": {"c": 1}}})";  // 3 levels, the document's own counted
  CHECK_EQ(scan_one(kAbc, deep, 0, 3), Got(R"({"b": {"c": 1}})"));
  CHECK_EQ(reject(kAbc, deep, 2),
           (Rejection{JsonScanError::TooDeep, 0,
                      "JSON nested more than 2 levels deep (json.max_depth)"}));
  // In an unwanted field the error names no field.
  CHECK_EQ(reject(kAbc, R"({"z": [[1]]})", 2),
           (Rejection{JsonScanError::TooDeep, -1,
                      "JSON nested more than 2 levels deep (json.max_depth)"}));
  // 100 000 levels: rejected without recursion (no stack overflow).
  std::string bomb = R"({"z": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_EQ(reject(kAbc, bomb).reason, JsonScanError::TooDeep);
}

TEST(is_json_number_follows_the_json_grammar) {
  for (const char* yes : {"0", "-0", "12", "-12.5", "1e5", "1E+5", "1.0e-05", "0.5"})
    CHECK(is_json_number(yes, strlen(yes)));
  for (const char* no : {"", "-", "01", "+1", ".5", "1.", "1e", "1e+", "0x1", "1 ", "NaN",
                         "Infinity", "--1", "1.2.3"})
    if (is_json_number(no, strlen(no)))
      unit::fail(__FILE__, __LINE__, std::string("accepted as a number: ") + no);
}

TEST(debezium_envelopes) {
  for (const std::string& kernel : json_scan_kernels()) {
    DebeziumScanner s(kJsonDefaultMaxDepth, kernel.c_str());
    std::string plain = R"({"before": null, "after": {"id": 1, "n": 1.50}, "op": "c"})";
    const DebeziumEvent& e = s.scan(plain.data(), plain.size());
    CHECK(!e.tombstone);
    CHECK(!e.not_object);
    CHECK(e.has_op);
    CHECK_EQ(e.op, std::string_view("c"));
    CHECK(e.before.data() == nullptr);
    CHECK_EQ(e.after, std::string_view(R"({"id": 1, "n": 1.50})"));

    std::string wrapped =
        R"({"schema": {"type": "struct"}, "payload": {"before": {"id": 2}, "after": null,)"
        R"( "op": "d", "source": {"lsn": 1}}})";
    const DebeziumEvent& d = s.scan(wrapped.data(), wrapped.size());
    CHECK_EQ(d.op, std::string_view("d"));
    CHECK_EQ(d.before, std::string_view(R"({"id": 2})"));
    CHECK(d.after.data() == nullptr);

    std::string no_op = R"({"after": {"id": 3}, "op": 5})";
    CHECK(!s.scan(no_op.data(), no_op.size()).has_op);

    for (const char* tombstone : {"null", R"({"schema": {}, "payload": null})"}) {
      const DebeziumEvent& t = s.scan(tombstone, strlen(tombstone));
      CHECK(t.tombstone);
      CHECK(!t.not_object);
    }
    for (const char* other : {"[1]", R"("x")", "12", R"({"schema": {}, "payload": 1})"}) {
      const DebeziumEvent& o = s.scan(other, strlen(other));
      CHECK(o.not_object);
      CHECK(!o.tombstone);
    }
    CHECK_THROWS(s.scan("{\"op\": \"c\"", 10), JsonScanError,
                 "malformed JSON: ends inside an object or array");
    CHECK_THROWS(s.scan("[1] [2]", 7), JsonScanError, "malformed JSON: content after the value");
    CHECK_THROWS(s.scan("null x", 6), JsonScanError, "malformed JSON: invalid literal");
  }
}
