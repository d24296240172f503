// libFuzzer target: JsonScanner and DebeziumScanner (src/formats/json_scan.cpp) on any bytes.
// The first byte picks the depth limit and how each field is wanted; the rest is the document.
// Whatever the input, a scan either succeeds or throws JsonScanError, a successful one yields
// NUL-terminated texts of the stated lengths, and every kernel (simdjson implementation) this
// CPU runs gives the same result.
#include "formats/json_scan.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace arroyo;

// What a scan yields, as text: each field's value, or the error.
static std::string scan_outcome(JsonScanner& s, const char* doc, size_t len) {
  std::string out;
  try {
    s.scan(doc, len);
    for (size_t i = 0; i < s.field_count(); i++) {
      const JsonScanValue& v = s.values()[i];
      if (v.kind == JsonScanValue::Text && (strlen(v.text) != v.len)) __builtin_trap();
      out += std::to_string(v.kind) + ":";
      if (v.kind == JsonScanValue::Text) out.append(v.text, v.len);
      if (v.kind == JsonScanValue::UnixMicros) out += std::to_string(v.unix_micros);
      out += "\n";
    }
  } catch (const JsonScanError& e) {
    out = "error " + std::to_string(e.reason) + " " + std::to_string(e.field) + " " + e.what();
  }
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  const char* doc = reinterpret_cast<const char*>(data + 1);
  size_t len = size - 1;
  size_t depth = (mode & 3) == 0 ? 3 : (mode & 3) == 1 ? 64 : kJsonDefaultMaxDepth;

  std::vector<JsonScanField> fields(6);
  const char* names[] = {"a", "b", "c", "d", "e", "id"};
  for (int i = 0; i < 6; i++) fields[i].name = names[i];
  fields[0].raw_json = true;
  fields[1].array_literal = true;
  fields[2].array_literal = fields[2].json_elements = true;
  fields[3].epoch_auto = (mode & 4) != 0;
  fields[3].epoch_millis = (mode & 4) == 0;
  fields[4].epoch_days = true;
  // Every kernel this CPU runs (json_scan_kernels()) must give the same result: the same values,
  // or the same error.
  static const std::vector<std::string> kernels = json_scan_kernels();
  static std::vector<std::unique_ptr<JsonScanner>> scanners[4];
  static std::vector<std::unique_ptr<DebeziumScanner>> debezium[4];
  if (scanners[mode & 3].empty())
    for (const std::string& k : kernels) {
      scanners[mode & 3].push_back(std::make_unique<JsonScanner>(fields, depth, k.c_str()));
      debezium[mode & 3].push_back(std::make_unique<DebeziumScanner>(depth, k.c_str()));
    }

  std::string first;  // the first kernel's outcome
  for (size_t k = 0; k < kernels.size(); k++) {
    JsonScanner& s = *scanners[mode & 3][k];
    std::string outcome = scan_outcome(s, doc, len);
    DebeziumScanner& d = *debezium[mode & 3][k];
    try {
      const DebeziumEvent& e = d.scan(doc, len);
      // The rows' texts lie inside (the scanner's copy of) the message.
      for (std::string_view part : {e.before, e.after})
        if (part.data() && part.size() > len) __builtin_trap();
      outcome += "|debezium " + std::to_string(e.tombstone) + std::to_string(e.not_object) +
                 std::to_string(e.has_op) + std::string(e.op) + "|" + std::string(e.before) + "|" +
                 std::string(e.after);
      if (e.after.data()) outcome += "|after " + scan_outcome(s, e.after.data(), e.after.size());
    } catch (const JsonScanError& e) {
      outcome += "|debezium error " + std::to_string(e.reason) + " " + e.what();
    }
    if (k == 0)
      first = std::move(outcome);
    else if (outcome != first)
      __builtin_trap();  // kernel k disagrees with kernels[0]
  }
  return 0;
}
