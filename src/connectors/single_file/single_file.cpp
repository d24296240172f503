// single_file: one server-side file of newline-delimited messages in the table's format (json,
// debezium_json), decoded and encoded by the format layer (formats/format.hpp), one message per
// line. As a source it is read once, front to back (a bounded source that ends at end of file);
// as a sink rows are appended to it.
// Server file access needs pg_read_server_files / pg_write_server_files, as COPY does.
#include "core/connector.hpp"
#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace arroyo {
namespace {

constexpr const char* kWhere = "connector \"single_file\" tables";
constexpr size_t kReadChunk = size_t(1) << 20;
constexpr size_t kSinkBufferLimit = size_t(1) << 20;
// Lines read per poll at most, in batch capacities, so a run of dropped lines still yields.
constexpr int kLinesPerPollFactor = 16;
// Longer lines are bad data, skipped without being held in memory (option max_line_size).
constexpr int64 kDefaultMaxLineBytes = int64(64) << 20;
constexpr int64 kMaxMaxLineBytes = int64(1) << 30;

// The connector's own options only a source uses (the format's are checked by the format layer).
const char* const kSourceOnlyOptions[] = {"event_time_field", "watermark_delay", "idle_timeout",
                                          "max_line_size"};

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"path", OptionKind::Text, true},
      {"type", OptionKind::Choice, true, {"source", "sink"}},
      {"max_line_size", OptionKind::PosInt},
  };
  for (OptionSpec& spec : format_option_specs({"json", "debezium_json"})) specs.push_back(spec);
  for (OptionSpec& spec : event_time_option_specs()) specs.push_back(spec);
  return specs;
}

bool is_sink(const TableSpec& spec) { return get_option(spec.table_options, "type") == "sink"; }

std::string path_of(const TableSpec& spec) {
  return get_option(spec.table_options, "path").value_or("");
}

// The SQLSTATE PostgreSQL's errcode_for_file_access() would give for an errno.
int file_errcode(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
    case EROFS: return ERRCODE_INSUFFICIENT_PRIVILEGE;
    case ENOENT: return ERRCODE_UNDEFINED_FILE;
    case EEXIST: return ERRCODE_DUPLICATE_FILE;
    case ENOTDIR:
    case EISDIR: return ERRCODE_WRONG_OBJECT_TYPE;
    case ENOSPC: return ERRCODE_DISK_FULL;
    case ENFILE:
    case EMFILE: return ERRCODE_INSUFFICIENT_RESOURCES;
    default: return ERRCODE_IO_ERROR;
  }
}

// Throws `could not <action> file "<path>": <strerror>` for an errno.
[[noreturn]] void fail_file(const char* action, const std::string& path, int err) {
  pg::fail(file_errcode(err),
           std::string("could not ") + action + " file \"" + path + "\": " + strerror(err));
}

bool is_blank(const char* line, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return false;
  return true;
}

// Reads a file line by line through one growing buffer (a line may span any number of reads).
// A line longer than `max_line` is not kept: its bytes are discarded as they are read, and it
// is returned as oversized, with its length only.
class LineReader {
 public:
  LineReader(std::string path, size_t max_line) : path_(std::move(path)), max_line_(max_line) {}
  ~LineReader() { close(); }

  void open() {
    if (fd_ >= 0) return;
    do fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) fail_file("open", path_, errno);
    buf_.resize(kReadChunk);
  }

  // The next line without its '\n' (the last one may lack it); false at end of file. The line
  // stays valid until the next call. A line over max_line bytes comes back as *line = nullptr
  // with its length in *len.
  bool next(const char** line, size_t* len) {
    size_t skipped = 0;  // bytes of an oversized line already discarded
    for (;;) {
      char* base = buf_.data();
      char* nl = static_cast<char*>(memchr(base + scan_from_, '\n', end_ - scan_from_));
      if (nl || eof_) {
        size_t stop = nl ? size_t(nl - base) : end_;
        if (!nl && begin_ == end_ && skipped == 0) return false;
        *line = base + begin_;
        *len = skipped + (stop - begin_);
        if (*len > max_line_) *line = nullptr;
        begin_ = scan_from_ = nl ? stop + 1 : stop;
        line_number_++;
        return true;
      }
      if (end_ - begin_ > max_line_) {  // too long already: forget what was read of it
        skipped += end_ - begin_;
        buffer_offset_ += int64(end_);
        begin_ = scan_from_ = end_ = 0;
      }
      scan_from_ = end_;
      read_more();
    }
  }

  // 1-based number of the line last returned by next().
  int64 line_number() const { return line_number_; }
  // The file offset just past the line last returned by next().
  int64 offset() const { return buffer_offset_ + int64(begin_); }
  // Continues reading at `offset`, whose line number is `line_number` + 1 (a checkpoint's).
  void seek(int64 offset, int64 line_number) {
    open();
    if (::lseek(fd_, off_t(offset), SEEK_SET) < 0) fail_file("seek in", path_, errno);
    begin_ = scan_from_ = end_ = 0;
    eof_ = false;
    buffer_offset_ = offset;
    line_number_ = line_number;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // Moves the partial line to the front (growing the buffer if it fills it) and reads more.
  void read_more() {
    if (begin_ > 0) {
      buffer_offset_ += int64(begin_);
      memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      scan_from_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    ssize_t n;
    do n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail_file("read", path_, errno);
    if (n == 0) eof_ = true;
    end_ += size_t(n > 0 ? n : 0);
  }

  std::string path_;
  size_t max_line_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t begin_ = 0;      // start of the current line
  size_t scan_from_ = 0;  // where the search for its '\n' resumes
  size_t end_ = 0;        // end of the bytes read
  bool eof_ = false;
  int64 line_number_ = 0;
  int64 buffer_offset_ = 0;  // file offset of buf_[0]
};

class SingleFileSource : public Source {
 public:
  explicit SingleFileSource(const TableSpec& spec)
      : path_(path_of(spec)),
        max_line_(option_int(spec.table_options, "max_line_size", kDefaultMaxLineBytes)),
        decoder_(make_row_decoder(spec)),
        bad_data_(spec),
        reader_(path_, size_t(max_line_)) {}

  void open(const RuntimeInfo&) override { reader_.open(); }

  PollResult poll(Batch& out) override {
    if (ended_) return PollResult::ended();
    reader_.open();
    TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
    int added = 0;
    int budget = kLinesPerPollFactor * out.capacity();
    int room = decoder_->max_rows_per_message();  // a Debezium update is two rows
    const char* line;
    size_t len;
    while (out.size() + room <= out.capacity() && budget-- > 0) {
      if (!reader_.next(&line, &len)) {
        ended_ = true;
        reader_.close();
        break;
      }
      if (line && is_blank(line, len)) continue;
      bool decoded = bad_data_.decode(
          out,
          [&] {
            if (!line)
              pg::fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "line of " + std::to_string(len) +
                                                           " bytes exceeds max_line_size (" +
                                                           std::to_string(max_line_) + " bytes)");
            decoder_->decode(line, len, out, now);
          },
          [&] {
            return "bad data in \"" + path_ + "\" line " + std::to_string(reader_.line_number());
          });
      if (decoded) added++;
    }
    // Data may be an empty batch when a whole budget of lines was blank or dropped.
    return ended_ && added == 0 ? PollResult::ended() : PollResult::data();
  }

  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  void close() override { reader_.close(); }

  // Position: the offset and number of the next line to read. A restarted pipeline reads on
  // from there, so lines appended to the file since are read too.
  void checkpoint(StateWriter& w) override {
    int64 offset = reader_.offset();
    if (offset == checkpointed_offset_) return;
    w.put(0, "", encode_ints({offset, reader_.line_number()}));
    checkpointed_offset_ = offset;
  }

  void restore(const StateEntry& entry) override {
    std::vector<int64> v = decode_ints(entry.value, 2, "the single_file source's position");
    int64 offset = v[0];
    reader_.seek(offset, v[1]);
    checkpointed_offset_ = offset;
  }

 private:
  std::string path_;
  int64 max_line_;
  std::unique_ptr<RowDecoder> decoder_;  // the table's format, one message per line
  BadData bad_data_;
  LineReader reader_;
  bool ended_ = false;
  int64 checkpointed_offset_ = 0;
};

// Appends one line per message the table's format makes of the rows (a json row, a Debezium
// envelope). Lines are buffered and written whenever the buffer passes 1 MiB, and at commit(),
// which also fsyncs the file before the pipeline's transaction commits.
// Exactly-once: each checkpoint records the file's length, and a restart first truncates the
// file back to the length of the checkpoint it resumes from, removing rows written after it.
class SingleFileSink : public Sink {
 public:
  explicit SingleFileSink(const TableSpec& spec)
      : path_(path_of(spec)), encoder_(make_row_encoder(spec)) {
    append_line_ = [this](const EncodedMessage& m) {
      buffer_.append(m.data, m.len);  // every format here gives each row a value
      buffer_.push_back('\n');
      if (buffer_.size() >= kSinkBufferLimit) flush();
    };
  }
  void set_key_columns(const std::vector<int>& keys) override { encoder_->set_key_columns(keys); }
  ~SingleFileSink() override {
    if (fd_ >= 0) ::close(fd_);  // rows still buffered here were never committed: dropped
  }

  void open(const RuntimeInfo&) override { open_file(); }

  void write(const Batch& rows) override {
    open_file();
    encoder_->encode(rows, append_line_);
  }

  void commit() override {
    encoder_->finish(append_line_);
    flush();
    if (dirty_ && fd_ >= 0) {
      if (::fsync(fd_) != 0) fail_file("fsync", path_, errno);
      dirty_ = false;
    }
  }

  // The file's length, with every row given so far (commit() has written them).
  void checkpoint(StateWriter& w) override {
    int64 length = file_length();
    if (length == checkpointed_length_) return;
    w.put(0, "", encode_ints({length}));
    checkpointed_length_ = length;
  }

  // Cuts off what was written after the checkpoint this run resumes from.
  void restore(const StateEntry& entry) override {
    int64 length = decode_ints(entry.value, 1, "the single_file sink's length")[0];
    int64 now = file_length();
    if (now < length)
      pg::fail(ERRCODE_DATA_CORRUPTED,
               "file \"" + path_ + "\" is shorter than the pipeline's checkpoint records (" +
                   std::to_string(now) + " < " + std::to_string(length) + " bytes)",
               "The file was truncated or replaced since the checkpoint; rows the pipeline "
               "committed are missing from it.",
               "Restore the file, or drop the pipeline (stream_drop) and create it again.");
    if (now > length && ::ftruncate(fd_, off_t(length)) != 0) fail_file("truncate", path_, errno);
    checkpointed_length_ = length;
  }

  void close() override {
    if (fd_ < 0) return;
    flush();
    if (::close(fd_) != 0) {
      fd_ = -1;
      fail_file("close", path_, errno);
    }
    fd_ = -1;
  }

 private:
  // Opens (creating it with mode 0644) the file for appending. The server's umask would make
  // it 0600; like COPY TO, we relax it to 022 just for the open.
  void open_file() {
    if (fd_ >= 0) return;
    mode_t old_mask = umask(S_IWGRP | S_IWOTH);
    do fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd_ < 0 && errno == EINTR);
    int open_errno = errno;
    umask(old_mask);
    if (fd_ < 0) fail_file("open", path_, open_errno);
  }

  int64 file_length() {
    open_file();
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail_file("stat", path_, errno);
    return int64(st.st_size);
  }

  // Writes the whole buffer (write() may take it in parts).
  void flush() {
    if (buffer_.empty()) return;
    open_file();
    dirty_ = true;
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_file("write to", path_, errno);
      done += size_t(n);
    }
    buffer_.clear();
  }

  std::string path_;
  std::unique_ptr<RowEncoder> encoder_;  // the table's format, one message per line
  MessageEmitter append_line_;           // appends a message to buffer_ as one line
  std::string buffer_;
  int fd_ = -1;
  bool dirty_ = false;  // written since the last fsync
  int64 checkpointed_length_ = -1;
};

class SingleFileConnector : public Connector {
 public:
  const char* name() const override { return "single_file"; }
  std::vector<std::string> checkpointed_options() const override { return {"path"}; }

  void validate_table(const TableSpec& spec) const override {
    validate_options(spec.table_options, table_option_specs(), kWhere);
    std::string path = path_of(spec);
    if (path.empty() || path[0] != '/')
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "option \"path\" must be an absolute path",
               "got \"" + path + "\"");
    TableRole role = is_sink(spec) ? TableRole::Sink : TableRole::Source;
    if (role == TableRole::Sink)
      for (const char* name : kSourceOnlyOptions)
        if (spec.table_options.count(name))
          pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
                   std::string("option \"") + name + "\" applies only to source tables");
    for (const ColumnInfo& col : spec.columns)
      validate_options(col.options, {}, "columns of " + std::string(kWhere));
    if (option_int(spec.table_options, "max_line_size", 0) > kMaxMaxLineBytes)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "invalid value for option \"max_line_size\": \"" +
                   *get_option(spec.table_options, "max_line_size") + "\"",
               "The largest allowed is " + std::to_string(kMaxMaxLineBytes) + " (1 GiB).");
    validate_table_format(spec, role);
  }

  TableRole role(const TableSpec& spec) const override {
    return is_sink(spec) ? TableRole::Sink : TableRole::Source;
  }

  bool accepts_updates(const TableSpec& spec) const override { return format_is_updating(spec); }
  bool produces_updates(const TableSpec& spec) const override { return format_is_updating(spec); }

  void check_privileges(const TableSpec&, TableRole role) const override {
    bool reading = role == TableRole::Source;
    Oid needed = reading ? ROLE_PG_READ_SERVER_FILES : ROLE_PG_WRITE_SERVER_FILES;
    if (!pg::call([&] { return has_privs_of_role(GetUserId(), needed); }))
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
               reading ? "must be superuser or have privileges of the pg_read_server_files "
                         "role to read a file with single_file"
                       : "must be superuser or have privileges of the pg_write_server_files "
                         "role to write a file with single_file");
  }

  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<SingleFileSource>(spec);
  }

  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return std::make_unique<SingleFileSink>(spec);
  }
};

}  // namespace

const Connector& single_file_connector() {
  static const SingleFileConnector connector;
  return connector;
}

}  // namespace arroyo
