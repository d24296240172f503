// format 'raw_string' for websocket tables: a message's whole payload becomes the value of the
// table's one text column, as UTF-8 text converted to the database encoding. (Kept with the
// connector until a shared message-format layer exists in src/formats/.)
#pragma once

#include "core/connector.hpp"

namespace arroyo {

// Checks that a raw_string table has exactly one column to fill (besides generated ones), of
// type text.
void validate_raw_payload_table(const TableSpec& spec);

class RawPayloadDecoder {
 public:
  explicit RawPayloadDecoder(const TableSpec& spec);

  // Fills row `row` of `out` (already appended, all NULL) with the payload as text. Throws
  // pg::Error for bytes that are not UTF-8 (or a NUL byte).
  void decode(const char* data, size_t len, Batch& out, int row);

 private:
  int column_ = -1;  // attnum - 1 of the text column
};

}  // namespace arroyo
