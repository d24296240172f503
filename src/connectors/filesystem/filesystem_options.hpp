// The filesystem connector's table options (as Arroyo's filesystem sink names them): `path`
// (the directory, absolute), `type` ('sink'), `format` (json, csv, avro),
// `rolling_policy.file_size`, `rolling_policy.interval`, `partitioning.fields`, and the
// formats' own: `json.timestamp_format`, `csv.header`, `avro.schema`.
#pragma once

#include "core/table_spec.hpp"

#include <string>
#include <vector>

namespace arroyo {

// At most this many partition columns (and so directory levels).
constexpr size_t kMaxPartitionFields = 16;
// Default rolling size: 128 MiB.
constexpr int64 kDefaultFileSize = int64(128) << 20;

// Checks a filesystem table's options and columns; errors name the option or the column.
void validate_filesystem_table(const TableSpec& spec);

// Parsed options of a validated table.
struct FilesystemOptions {
  std::string path;                 // the directory, without a trailing '/'
  int64 file_size;                  // roll a file once it reaches this many bytes
  int64 interval_us;                // roll a file once it is this old (0: never)
  std::vector<std::string> fields;  // partition columns, in directory order
};
FilesystemOptions filesystem_options(const TableSpec& spec);

}  // namespace arroyo
