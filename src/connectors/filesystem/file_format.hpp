// How the filesystem sink lays rows out in a file: one small interface per file format (JSON
// lines, CSV, Avro object container files). A file is a header, then blocks of rows (a block
// ends at each flush: a commit, or when it grows past kBlockBytes), then a trailer. The sink
// owns the files and their bytes; a format only produces bytes. A columnar format such as
// Parquet would be one more FileFormat: rows buffered per block (a row group) in
// append_row, encoded in frame_block, its footer written by trailer().
#pragma once

#include "core/batch.hpp"
#include "core/table_spec.hpp"

#include <memory>
#include <string>
#include <vector>

namespace arroyo {

class FileFormat {
 public:
  virtual ~FileFormat() = default;
  // The file name extension, without the dot.
  virtual const char* extension() const = 0;
  // The bytes a new file starts with; `file_id` is 16 random bytes of the file's own (Avro's
  // sync marker), kept with the file across restarts.
  virtual std::string header(const std::string& /*file_id*/) { return {}; }
  // Appends one row (full table row layout) to the open block.
  virtual void append_row(const Datum* values, const bool* nulls, std::string& block) = 0;
  // Moves a block of `rows` rows into `out` as the bytes that go into the file, and empties it.
  virtual void frame_block(std::string& block, int64 /*rows*/, const std::string& /*file_id*/,
                           std::string& out) {
    out += block;
    block.clear();
  }
  // The bytes a file ends with when it is rolled.
  virtual std::string trailer() { return {}; }
};

// A block is framed once it passes this size (Avro's block size; JSON and CSV just write).
constexpr size_t kFileBlockBytes = size_t(64) << 10;

// The file format of a filesystem table (its `format`: json, csv or avro); building it checks
// the columns (every column type's output function, Avro's type mapping).
std::unique_ptr<FileFormat> make_file_format(const TableSpec& spec);

}  // namespace arroyo
