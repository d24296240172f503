#include "connectors/filesystem/filesystem_options.hpp"

#include "connectors/filesystem/file_format.hpp"
#include "formats/avro.hpp"
#include "formats/json.hpp"
#include "pg/guard.hpp"

#include <cctype>

namespace arroyo {

namespace {

constexpr const char* kWhere = "connector \"filesystem\" tables";
// Largest rolling size: 1 TiB.
constexpr int64 kMaxFileSize = int64(1) << 40;

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"path", OptionKind::Text, true},
      {"type", OptionKind::Choice, true, {"sink"}},
      {"format", OptionKind::Choice, false, {"json", "csv", "avro"}},
      {"rolling_policy.file_size", OptionKind::Text},
      {"rolling_policy.interval", OptionKind::Interval},
      {"partitioning.fields", OptionKind::Text},
      {"csv.header", OptionKind::Choice, false, {"true", "false"}},
      {"avro.schema", OptionKind::Text},
  };
  for (OptionSpec& s : json_format_option_specs())
    if (s.name == "json.timestamp_format") specs.push_back(s);
  return specs;
}

[[noreturn]] void bad_value(const std::string& name, const std::string& value,
                            const std::string& detail) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"" + name + "\": \"" + value + "\"", detail);
}

// "1000", "64kB", "128MB", "1GB" (units of 1024, as PostgreSQL's memory settings).
int64 parse_size(const std::string& text) {
  const char* detail = "Expected a size in bytes, optionally with a unit: B, kB, MB, GB or TB.";
  size_t i = 0;
  int64 v = 0;
  while (i < text.size() && isdigit(uint8(text[i]))) {
    if (v > kMaxFileSize) bad_value("rolling_policy.file_size", text, "The largest is 1TB.");
    v = v * 10 + (text[i++] - '0');
  }
  if (i == 0) bad_value("rolling_policy.file_size", text, detail);
  while (i < text.size() && text[i] == ' ') i++;
  std::string unit = text.substr(i);
  int shift = 0;
  if (unit == "kB")
    shift = 10;
  else if (unit == "MB")
    shift = 20;
  else if (unit == "GB")
    shift = 30;
  else if (unit == "TB")
    shift = 40;
  else if (!unit.empty() && unit != "B")
    bad_value("rolling_policy.file_size", text, detail);
  if (v > (kMaxFileSize >> shift))
    bad_value("rolling_policy.file_size", text, "The largest is 1TB.");
  v <<= shift;
  if (v < 1) bad_value("rolling_policy.file_size", text, "The smallest is 1 byte.");
  return v;
}

// The comma-separated column names of partitioning.fields.
std::vector<std::string> partition_fields(const TableSpec& spec) {
  std::vector<std::string> out;
  auto list = get_option(spec.table_options, "partitioning.fields");
  if (!list) return out;
  size_t start = 0;
  while (start <= list->size()) {
    size_t end = list->find(',', start);
    if (end == std::string::npos) end = list->size();
    std::string column = list->substr(start, end - start);
    size_t a = column.find_first_not_of(" \t"), b = column.find_last_not_of(" \t");
    column = a == std::string::npos ? "" : column.substr(a, b - a + 1);
    if (column.empty())
      bad_value("partitioning.fields", *list, "Expected a comma-separated list of column names.");
    if (!spec.column(column))
      bad_value("partitioning.fields", *list, "The table has no column \"" + column + "\".");
    for (const std::string& seen : out)
      if (seen == column)
        bad_value("partitioning.fields", *list, "Column \"" + column + "\" is listed twice.");
    out.push_back(column);
    if (out.size() > kMaxPartitionFields)
      bad_value("partitioning.fields", *list,
                "At most " + std::to_string(kMaxPartitionFields) + " columns.");
    start = end + 1;
  }
  return out;
}

}  // namespace

void validate_filesystem_table(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  if (get_option(opts, "format") == "parquet")
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "format \"parquet\" is not available: Debian 12 packages no Parquet library", {},
             "Use format 'json', 'csv' or 'avro'.");
  validate_options(opts, table_option_specs(), kWhere);
  for (const ColumnInfo& col : spec.columns)
    validate_options(col.options, {}, "columns of " + std::string(kWhere));
  std::string path = *get_option(opts, "path");
  if (path.empty() || path[0] != '/')
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "option \"path\" must be an absolute path",
             "got \"" + path + "\"");
  if (path.size() > 1024) bad_value("path", path, "At most 1024 bytes.");
  std::string format = get_option(opts, "format").value_or("json");
  if (opts.count("json.timestamp_format") && format != "json")
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "option \"json.timestamp_format\" applies only to format \"json\"");
  if (opts.count("csv.header") && format != "csv")
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "option \"csv.header\" applies only to format \"csv\"");
  if (opts.count("avro.schema") && format != "avro")
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "option \"avro.schema\" applies only to format \"avro\"");
  filesystem_options(spec);
  make_file_format(spec);  // checks the columns against the format
}

FilesystemOptions filesystem_options(const TableSpec& spec) {
  FilesystemOptions o;
  o.path = *get_option(spec.table_options, "path");
  while (o.path.size() > 1 && o.path.back() == '/') o.path.pop_back();
  auto size = get_option(spec.table_options, "rolling_policy.file_size");
  o.file_size = size ? parse_size(*size) : kDefaultFileSize;
  o.interval_us = option_interval_us(spec.table_options, "rolling_policy.interval", 0);
  o.fields = partition_fields(spec);
  return o;
}

}  // namespace arroyo
