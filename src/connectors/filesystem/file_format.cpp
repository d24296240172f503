#include "connectors/filesystem/file_format.hpp"

#include "formats/avro.hpp"
#include "formats/json.hpp"
#include "pg/guard.hpp"

#include <cstring>

namespace arroyo {

namespace {

// JSON lines: each row a JSON object (the json format's encoder) and a newline.
class JsonLinesFormat : public FileFormat {
 public:
  explicit JsonLinesFormat(const TableSpec& spec) : encoder_(spec, spec.table_options) {}
  const char* extension() const override { return "json"; }
  void append_row(const Datum* values, const bool* nulls, std::string& block) override {
    encoder_.encode(values, nulls, block);
    block.push_back('\n');
  }

 private:
  JsonEncoder encoder_;
};

// CSV as PostgreSQL's COPY ... (FORMAT csv) writes it: comma-separated values in the columns'
// text form, NULL as nothing, a value quoted (with quotes doubled) when it is empty or holds a
// comma, a quote, a carriage return or a newline (or is \. alone in a one-column table); rows
// end with a newline. `csv.header 'true'`: each file starts with the column names.
class CsvFormat : public FileFormat {
 public:
  explicit CsvFormat(const TableSpec& spec) : context_("arroyo_stream csv encoder") {
    header_ = get_option(spec.table_options, "csv.header") == "true";
    for (const ColumnInfo& col : spec.columns) {
      columns_.push_back({col.name, col.attnum - 1, {}});
      Column& c = columns_.back();
      pg::call([&] {
        Oid func;
        bool varlena;
        getTypeOutputInfo(col.type, &func, &varlena);
        fmgr_info_cxt(func, &c.output, context_.get());
      });
    }
  }
  const char* extension() const override { return "csv"; }

  std::string header(const std::string&) override {
    std::string out;
    if (!header_) return out;
    for (size_t i = 0; i < columns_.size(); i++) {
      if (i > 0) out.push_back(',');
      append_value(columns_[i].name.c_str(), out);
    }
    out.push_back('\n');
    return out;
  }

  void append_row(const Datum* values, const bool* nulls, std::string& block) override {
    for (size_t i = 0; i < columns_.size(); i++) {
      Column& c = columns_[i];
      if (i > 0) block.push_back(',');
      if (nulls[c.index]) continue;
      char* text = pg::call([&] { return OutputFunctionCall(&c.output, values[c.index]); });
      append_value(text, block);
      pg::call([&] { pfree(text); });
    }
    block.push_back('\n');
  }

 private:
  struct Column {
    std::string name;
    int index;
    FmgrInfo output;
  };

  void append_value(const char* s, std::string& out) const {
    bool quote = s[0] == '\0' || strpbrk(s, ",\"\r\n") != nullptr ||
                 (columns_.size() == 1 && strcmp(s, "\\.") == 0);
    if (!quote) {
      out += s;
      return;
    }
    out.push_back('"');
    for (const char* p = s; *p; p++) {
      if (*p == '"') out.push_back('"');
      out.push_back(*p);
    }
    out.push_back('"');
  }

  OwnedMemoryContext context_;  // owns the FmgrInfo caches
  std::vector<Column> columns_;
  bool header_;
};

// Avro object container files: the header carries the record schema (avro.schema, or derived
// from the columns) and the file's sync marker; each block holds the rows of one flush.
class AvroFileFormat : public FileFormat {
 public:
  explicit AvroFileFormat(const TableSpec& spec) : codec_(spec, true) {}
  const char* extension() const override { return "avro"; }
  std::string header(const std::string& file_id) override {
    return avro_container_header(codec_.schema_json(), file_id);
  }
  void append_row(const Datum* values, const bool* nulls, std::string& block) override {
    codec_.encode(values, nulls, block);
  }
  void frame_block(std::string& block, int64 rows, const std::string& file_id,
                   std::string& out) override {
    avro_container_block(out, rows, block, file_id);
    block.clear();
  }

 private:
  AvroCodec codec_;
};

}  // namespace

std::unique_ptr<FileFormat> make_file_format(const TableSpec& spec) {
  std::string format = get_option(spec.table_options, "format").value_or("json");
  if (format == "csv") return std::make_unique<CsvFormat>(spec);
  if (format == "avro") return std::make_unique<AvroFileFormat>(spec);
  return std::make_unique<JsonLinesFormat>(spec);
}

}  // namespace arroyo
