// The raw_string format, shared by every connector: a message's whole payload becomes the value
// of the table's one text column, as UTF-8 text converted to the database encoding.
#pragma once

#include "connectors/connector.hpp"

namespace arroyo {

// Checks that a raw_string table has exactly one column a connector fills (besides generated
// ones), of type text. `connector` names the connector in messages.
void validate_raw_string_table(const TableSpec& spec, const std::string& connector);

class RawStringDecoder {
 public:
  explicit RawStringDecoder(const TableSpec& spec);

  // Fills row `row` of `out` (already appended, all NULL) with the payload as text. Throws
  // pg::Error for bytes that are not UTF-8 (or a NUL byte).
  void decode(const char* data, size_t len, Batch& out, int row);

 private:
  int column_ = -1;  // attnum - 1 of the text column
};

}  // namespace arroyo
