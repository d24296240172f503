// libFuzzer target: JsonScanner and DebeziumScanner (src/formats/json_scan.cpp) on any bytes.
// The first byte picks the depth limit and how each field is wanted; the rest is the document.
// Whatever the input, a scan either succeeds or throws JsonScanError, and a successful one
// yields NUL-terminated texts of the stated lengths.
#include "formats/json_scan.hpp"

#include <cstring>

using namespace arroyo;

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
  static JsonScanner* scanner[4];
  if (!scanner[mode & 3]) scanner[mode & 3] = new JsonScanner(fields, depth);
  JsonScanner& s = *scanner[mode & 3];
  try {
    s.scan(doc, len);
    for (size_t i = 0; i < s.field_count(); i++) {
      const JsonScanValue& v = s.values()[i];
      if (v.kind == JsonScanValue::Text && (strlen(v.text) != v.len)) __builtin_trap();
    }
  } catch (const JsonScanError&) {
  }

  static DebeziumScanner* debezium[4];
  if (!debezium[mode & 3]) debezium[mode & 3] = new DebeziumScanner(depth);
  try {
    const DebeziumEvent& e = debezium[mode & 3]->scan(doc, len);
    // The rows' texts lie inside the message.
    for (std::string_view part : {e.before, e.after})
      if (part.data() && part.size() > len) __builtin_trap();
    if (e.after.data()) s.scan(e.after.data(), e.after.size());
  } catch (const JsonScanError&) {
  }
  return 0;
}
