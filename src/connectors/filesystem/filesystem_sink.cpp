#include "connectors/filesystem/filesystem_sink.hpp"

#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace arroyo {

namespace {

// Framed bytes of a file are written once they pass this size (and at every commit).
constexpr size_t kWriteBytes = kFileBlockBytes;
// Open files (partitions) at most; one more rolls the oldest.
constexpr size_t kMaxOpenFiles = 64;
// An escaped `column=value` directory name may take this many bytes.
constexpr size_t kMaxDirNameBytes = 250;
constexpr const char* kNullPartition = "__HIVE_DEFAULT_PARTITION__";
constexpr const char* kTempSuffix = ".inprogress";
constexpr int64 kStateVersion = 1;

int file_errcode(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
    case EROFS: return ERRCODE_INSUFFICIENT_PRIVILEGE;
    case ENOENT: return ERRCODE_UNDEFINED_FILE;
    case ENOSPC: return ERRCODE_DISK_FULL;
    case ENFILE:
    case EMFILE: return ERRCODE_INSUFFICIENT_RESOURCES;
    default: return ERRCODE_IO_ERROR;
  }
}

[[noreturn]] void fail_file(const char* action, const std::string& path, int err) {
  pg::fail(file_errcode(err),
           std::string("could not ") + action + " file \"" + path + "\": " + strerror(err));
}

// A file the checkpoint records (in progress, or to be renamed) is gone: its rows are lost.
[[noreturn]] void fail_recorded_file_missing(const std::string& path) {
  pg::fail(ERRCODE_DATA_CORRUPTED,
           "file \"" + path + "\", which the pipeline's checkpoint records, is missing",
           "Rows the pipeline committed to it are lost.",
           "Drop the pipeline (stream_drop) and create it again.");
}

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_file("write to", path, errno);
    done += size_t(n);
  }
}

void fsync_path(const std::string& path, bool directory) {
  int fd;
  do fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) fail_file("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail_file("fsync", path, err);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// mkdir -p, with mode 0755 whatever the server's umask (as COPY TO relaxes it for files).
void make_dirs(const std::string& path) {
  mode_t old_mask = umask(S_IWGRP | S_IWOTH);
  int err = 0;
  for (size_t i = 1; i <= path.size() && !err; i++) {
    if (i < path.size() && path[i] != '/') continue;
    std::string sub = path.substr(0, i);
    if (::mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) err = errno;
  }
  umask(old_mask);
  if (err) fail_file("create directory", path, err);
}

// Hive's escaping of a partition path component: %XX for control characters and
// "#%'*/:=?\{[]^ and DEL.
void hive_escape(const char* s, std::string& out) {
  static const char* kSpecial = "\"#%'*/:=?\\{[]^";
  for (const char* p = s; *p; p++) {
    uint8 c = uint8(*p);
    if (c < 0x20 || c == 0x7f || strchr(kSpecial, c)) {
      char hex[4];
      snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    } else {
      out.push_back(char(c));
    }
  }
}

// Whether `name` is `<prefix><digits><rest>`; sets the number.
bool parse_seq(const std::string& name, const std::string& prefix, const std::string& rest,
               int64* seq) {
  if (name.size() <= prefix.size() + rest.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - rest.size(), rest.size(), rest) != 0)
    return false;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - rest.size());
  if (digits.empty() || digits.size() > 18) return false;
  for (char c : digits)
    if (!isdigit(uint8(c))) return false;
  *seq = std::stoll(digits);
  return true;
}

}  // namespace

FilesystemSink::FilesystemSink(const TableSpec& spec)
    : spec_(spec), options_(filesystem_options(spec)), format_(make_file_format(spec)) {
  functions_ = pg::call([] {
    return AllocSetContextCreate(TopMemoryContext, "arroyo_stream filesystem sink",
                                 ALLOCSET_SMALL_SIZES);
  });
  for (const std::string& name : options_.fields) {
    const ColumnInfo* col = spec.column(name);
    partition_columns_.push_back({name, col->attnum - 1, {}});
    PartitionColumn& pc = partition_columns_.back();
    pg::call([&] {
      Oid func;
      bool varlena;
      getTypeOutputInfo(col->type, &func, &varlena);
      fmgr_info_cxt(func, &pc.output, functions_);
    });
  }
}

// Closes the files without renaming anything: what was written since the last checkpoint
// belongs to a transaction that did not commit, and a restart deals with it.
FilesystemSink::~FilesystemSink() {
  for (auto& [dir, part] : open_)
    if (part->fd >= 0) ::close(part->fd);
  if (functions_) MemoryContextDelete(functions_);
}

void FilesystemSink::open(const RuntimeInfo& info) {
  name_.clear();
  for (char c : info.pipeline_name)
    name_.push_back(isalnum(uint8(c)) || c == '_' || c == '-' ? c : '_');
  subtask_ = info.subtask_index;
  parallelism_ = std::max(info.parallelism, 1);
  prefix_ = name_ + "-" + std::to_string(info.subtask_index) + "-";
}

std::string FilesystemSink::final_name(const std::string& prefix, int64 seq) const {
  char digits[24];
  snprintf(digits, sizeof digits, "%08lld", (long long)seq);
  return prefix + digits + "." + format_->extension();
}

std::string FilesystemSink::temp_name(const std::string& prefix, int64 seq) const {
  return "." + final_name(prefix, seq) + kTempSuffix;
}

std::string FilesystemSink::full(const std::string& dir, const std::string& name) const {
  return options_.path + "/" + dir + name;
}

// The relative directory of a row's partition: `col=value/` per partition column.
std::string FilesystemSink::partition_dir(const TableSpec&, const Datum* values,
                                          const bool* nulls) {
  std::string dir;
  for (PartitionColumn& pc : partition_columns_) {
    size_t start = dir.size();
    hive_escape(pc.name.c_str(), dir);
    dir.push_back('=');
    if (nulls[pc.index]) {
      dir += kNullPartition;
    } else {
      char* text = pg::call([&] { return OutputFunctionCall(&pc.output, values[pc.index]); });
      if (text[0] == '\0')
        dir += kNullPartition;
      else
        hive_escape(text, dir);
      pg::call([&] { pfree(text); });
    }
    if (dir.size() - start > kMaxDirNameBytes)
      pg::fail(ERRCODE_NAME_TOO_LONG, "the partition directory of column \"" + pc.name +
                                          "\" would take " + std::to_string(dir.size() - start) +
                                          " bytes (at most " + std::to_string(kMaxDirNameBytes) +
                                          ")");
    dir.push_back('/');
  }
  return dir;
}

// The open file of a partition, creating one (rolling the oldest beyond kMaxOpenFiles).
FilesystemSink::Part& FilesystemSink::part_for(const std::string& dir) {
  auto it = open_.find(dir);
  if (it != open_.end()) return *it->second;
  if (open_.size() >= kMaxOpenFiles) {
    auto oldest = open_.begin();
    for (auto i = open_.begin(); i != open_.end(); ++i)
      if (i->second->seq < oldest->second->seq) oldest = i;
    roll(*oldest->second);
  }
  auto part = std::make_unique<Part>();
  part->dir = dir;
  part->seq = next_seq_++;
  part->id.resize(16);
  if (!pg::call([&] { return pg_strong_random(part->id.data(), 16); }))
    pg::fail(ERRCODE_INTERNAL_ERROR, "could not generate random bytes");
  part->opened = pg::call([] { return GetCurrentTimestamp(); });
  std::string dirpath = options_.path + "/" + dir;
  make_dirs(dirpath.substr(0, dirpath.size() - 1));
  std::string path = full(dir, temp_name(part->seq));
  mode_t old_mask = umask(S_IWGRP | S_IWOTH);
  do part->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  while (part->fd < 0 && errno == EINTR);
  int err = errno;
  umask(old_mask);
  if (part->fd < 0) fail_file("create", path, err);
  part->out = format_->header(part->id);
  part->dirty = true;
  // The new file's directory, and every directory up to the root, which may be new too.
  dirs_to_sync_.push_back(options_.path);
  for (size_t i = 0; i < dir.size(); i++)
    if (dir[i] == '/') dirs_to_sync_.push_back(options_.path + "/" + dir.substr(0, i));
  Part& ref = *part;
  open_[dir] = std::move(part);
  return ref;
}

// Writes a part's framed bytes; `frame`: first closes its open block.
void FilesystemSink::flush(Part& p, bool frame) {
  if (frame && p.block_rows > 0) {
    format_->frame_block(p.block, p.block_rows, p.id, p.out);
    p.block_rows = 0;
  }
  if (p.out.empty()) return;
  write_all(p.fd, p.out, full(p.dir, temp_name(p.seq)));
  p.size += int64(p.out.size());
  p.out.clear();
  p.dirty = true;
}

// Finishes a file (its last block and trailer, fsynced) and queues it for its rename.
void FilesystemSink::roll(Part& p) {
  flush(p, true);
  p.out = format_->trailer();
  flush(p, false);
  std::string path = full(p.dir, temp_name(p.seq));
  if (::fsync(p.fd) != 0) fail_file("fsync", path, errno);
  int rc = ::close(p.fd);
  p.fd = -1;
  if (rc != 0) fail_file("close", path, errno);
  rolled_.push_back({p.dir, p.seq});
  open_.erase(p.dir);
}

void FilesystemSink::write(const Batch& rows) {
  if (rescale_pending_) finish_rescale();
  if (!recovered_) recover({}, {});
  for (int r = 0; r < rows.size(); r++) {
    if (rows.op(r) != RowOp::Insert)
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
               "connector \"filesystem\" is append-only and cannot write deletes or updates");
    std::string dir = partition_dir(spec_, rows.values(r), rows.nulls(r));
    Part& p = part_for(dir);
    format_->append_row(rows.values(r), rows.nulls(r), p.block);
    p.block_rows++;
    if (p.block.size() >= kFileBlockBytes) flush(p, true);
    if (p.out.size() >= kWriteBytes) flush(p, false);
    if (p.size + int64(p.out.size() + p.block.size()) >= options_.file_size) roll(p);
  }
}

// Rolls files past their age, then writes and fsyncs what every open file holds.
void FilesystemSink::commit() {
  if (rescale_pending_) finish_rescale();
  if (!recovered_) recover({}, {});
  if (options_.interval_us > 0) {
    TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
    std::vector<Part*> old;
    for (auto& [dir, part] : open_)
      if (now - part->opened >= options_.interval_us) old.push_back(part.get());
    for (Part* p : old) roll(*p);
  }
  for (auto& [dir, part] : open_) {
    flush(*part, true);
    if (part->dirty && ::fsync(part->fd) != 0)
      fail_file("fsync", full(part->dir, temp_name(part->seq)), errno);
    part->dirty = false;
  }
  sync_dirs();
}

void FilesystemSink::sync_dirs() {
  std::sort(dirs_to_sync_.begin(), dirs_to_sync_.end());
  dirs_to_sync_.erase(std::unique(dirs_to_sync_.begin(), dirs_to_sync_.end()), dirs_to_sync_.end());
  for (const std::string& d : dirs_to_sync_) fsync_path(d, true);
  dirs_to_sync_.clear();
}

// The checkpoint entry: the sequence counter, the rolled files, the open files' lengths.
std::string FilesystemSink::encode_state() const {
  StateEncoder e;
  e.put_int(kStateVersion);
  e.put_int(next_seq_);
  e.put_int(int64(rolled_.size()));
  for (const Rolled& r : rolled_) {
    e.put_string(r.dir);
    e.put_int(r.seq);
  }
  e.put_int(int64(open_.size()));
  for (const auto& [dir, p] : open_) {
    e.put_string(p->dir);
    e.put_int(p->seq);
    e.put_int(p->size);
    e.put_string(p->id);
  }
  return e.bytes();
}

void FilesystemSink::checkpoint(StateWriter& w) {
  if (rescale_pending_) finish_rescale();
  if (!recovered_) recover({}, {});
  std::string state = encode_state();
  recorded_ = rolled_.size();
  if (state == last_state_) return;
  w.put(0, "", state);
  last_state_ = state;
}

// Renames the rolled files the committed checkpoint recorded.
void FilesystemSink::committed() {
  for (size_t i = 0; i < recorded_; i++) rename_into_place(rolled_[i], false);
  rolled_.erase(rolled_.begin(), rolled_.begin() + long(recorded_));
  recorded_ = 0;
  sync_dirs();
}

void FilesystemSink::rename_into_place(const std::string& prefix, const Rolled& r,
                                       bool may_be_done) {
  std::string from = full(r.dir, temp_name(prefix, r.seq));
  std::string to = full(r.dir, final_name(prefix, r.seq));
  if (::rename(from.c_str(), to.c_str()) == 0) {
    dirs_to_sync_.push_back(options_.path + "/" + r.dir);
    return;
  }
  int err = errno;
  if (err == ENOENT && may_be_done && exists(to)) return;  // renamed before the restart
  if (err == ENOENT) fail_recorded_file_missing(from);
  fail_file("rename", from, err);
}

void FilesystemSink::restore(const StateEntry& entry) {
  StateDecoder d(entry.value.data(), entry.value.size(), "the filesystem sink's files");
  if (d.get_int() != kStateVersion) d.corrupt("its version is unknown");
  int64 next = d.get_int();
  std::vector<Rolled> rolled;
  std::vector<Part> open;
  int64 n = d.get_int();
  if (n < 0 || n > (int64(1) << 30)) d.corrupt("a count is out of range");
  for (int64 i = 0; i < n; i++) {
    std::string dir = d.get_string();
    rolled.push_back({dir, d.get_int()});
  }
  n = d.get_int();
  if (n < 0 || n > int64(kMaxOpenFiles)) d.corrupt("a count is out of range");
  for (int64 i = 0; i < n; i++) {
    Part p;
    p.dir = d.get_string();
    p.seq = d.get_int();
    p.size = d.get_int();
    p.id = d.get_string();
    open.push_back(std::move(p));
  }
  d.expect_end();
  if (rescaled_from_ && entry.worker != subtask_) {
    // An old worker this one inherits (entry.worker % parallelism == subtask_index).
    finish_inherited(name_ + "-" + std::to_string(entry.worker) + "-", rolled, open);
    finished_.insert(entry.worker);
    return;
  }
  next_seq_ = next;
  recover(rolled, open);
  // Rescaled: the runtime deletes the old entries with the first checkpoint, which must
  // therefore write this one again.
  if (!rescaled_from_) last_state_ = entry.value;
}

void FilesystemSink::rescale(int old_parallelism) {
  rescaled_from_ = old_parallelism;
  rescale_pending_ = true;
}

// Once the checkpoint's entries are in: the inherited old workers that left none may still
// have left in-progress files (uncommitted rows only), which go.
void FilesystemSink::finish_rescale() {
  rescale_pending_ = false;
  for (int w = subtask_ + parallelism_; w < rescaled_from_; w += parallelism_)
    if (!finished_.count(w)) finish_inherited(name_ + "-" + std::to_string(w) + "-", {}, {});
  finished_.clear();
}

// Opens the in-progress file a checkpoint recorded (`saved`, its name starting with `prefix`)
// to go on from there: cut back to the recorded length (*cut: it was longer) and positioned at
// its end. -1: it is finished already (renamed when the pipeline stopped, or by an earlier
// try of a rescale). A missing or shorter file fails: committed rows would be lost.
int FilesystemSink::reopen_at_checkpoint(const std::string& prefix, const Part& saved, bool* cut) {
  std::string path = full(saved.dir, temp_name(prefix, saved.seq));
  int fd;
  do fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && errno == ENOENT && exists(full(saved.dir, final_name(prefix, saved.seq))))
    return -1;
  if (fd < 0) {
    if (errno == ENOENT) fail_recorded_file_missing(path);
    fail_file("open", path, errno);
  }
  struct stat st;
  const char* failed = nullptr;
  int err = 0;
  if (::fstat(fd, &st) != 0) failed = "stat", err = errno;
  if (!failed && int64(st.st_size) < saved.size) {
    ::close(fd);
    pg::fail(ERRCODE_DATA_CORRUPTED,
             "file \"" + path + "\" is shorter than the pipeline's checkpoint records (" +
                 std::to_string(st.st_size) + " < " + std::to_string(saved.size) + " bytes)");
  }
  *cut = !failed && int64(st.st_size) > saved.size;
  if (*cut && ::ftruncate(fd, off_t(saved.size)) != 0) failed = "truncate", err = errno;
  if (!failed && ::lseek(fd, off_t(saved.size), SEEK_SET) < 0) failed = "seek in", err = errno;
  if (failed) {
    ::close(fd);
    fail_file(failed, path, err);
  }
  return fd;
}

// Finishes the files of an inherited old worker (file names starting with `prefix`): renames its
// rolled files, cuts each open file back to its recorded length, ends it (trailer, fsync) and
// renames it, and deletes that worker's in-progress files the checkpoint does not cover.
void FilesystemSink::finish_inherited(const std::string& prefix, const std::vector<Rolled>& rolled,
                                      const std::vector<Part>& open) {
  int64 finished = 0;
  for (const Rolled& r : rolled) rename_into_place(prefix, r, true);
  std::set<std::pair<std::string, int64>> kept;
  for (const Part& saved : open) {
    kept.insert({saved.dir, saved.seq});
    bool cut;
    int fd = reopen_at_checkpoint(prefix, saved, &cut);
    if (fd < 0) continue;  // finished before (the pipeline stopped, or an earlier try)
    std::string path = full(saved.dir, temp_name(prefix, saved.seq));
    int err = 0;
    std::string trailer = format_->trailer();
    try {
      write_all(fd, trailer, path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && !err) err = errno;
    if (err) fail_file("fsync", path, err);
    rename_into_place(prefix, {saved.dir, saved.seq}, false);
    finished++;
  }
  int64 ignored = 0;
  int64 removed = remove_uncovered(prefix, kept, &ignored);
  sync_dirs();
  pg::call([&] {
    ereport(LOG, (errmsg("arroyo_stream: filesystem sink in \"%s\": finished %lld open and %lld "
                         "rolled file(s) of \"%s*\" left by an old worker, removed %lld "
                         "uncommitted file(s)",
                         options_.path.c_str(), (long long)finished, (long long)rolled.size(),
                         prefix.c_str(), (long long)removed)));
  });
}

// Brings the directory to the checkpoint's state: finishes its renames, cuts its open files
// back to their recorded lengths (to append to them again), deletes this pipeline's other
// in-progress files, and moves the sequence counter past every file of ours it finds.
void FilesystemSink::recover(const std::vector<Rolled>& rolled, const std::vector<Part>& open) {
  recovered_ = true;
  for (const Rolled& r : rolled) rename_into_place(r, true);
  std::set<std::pair<std::string, int64>> kept;
  int64 cut = 0, removed = 0;
  for (const Part& saved : open) {
    bool was_cut;
    int fd = reopen_at_checkpoint(prefix_, saved, &was_cut);
    if (fd < 0) continue;  // rolled and renamed when the pipeline stopped
    cut += was_cut;
    auto part = std::make_unique<Part>(saved);
    part->fd = fd;
    part->opened = pg::call([] { return GetCurrentTimestamp(); });
    part->dirty = true;
    kept.insert({saved.dir, saved.seq});
    open_[saved.dir] = std::move(part);
  }
  removed = remove_uncovered(prefix_, kept, &next_seq_);
  sync_dirs();
  if (cut > 0 || removed > 0)
    pg::call([&] {
      ereport(LOG, (errmsg("arroyo_stream: filesystem sink in \"%s\": cut %lld file(s) back to "
                           "the checkpoint and removed %lld uncommitted file(s)",
                           options_.path.c_str(), (long long)cut, (long long)removed)));
    });
}

// Deletes the in-progress files named `prefix`<seq> that `kept` does not hold, in every partition
// directory; moves *next_seq past every file of that prefix. Returns how many it deleted.
int64 FilesystemSink::remove_uncovered(const std::string& prefix,
                                       const std::set<std::pair<std::string, int64>>& kept,
                                       int64* next_seq) {
  int64 removed = 0;
  // Walk the partition directories (as deep as there are partition columns), breadth first.
  std::vector<std::string> level = {""};
  for (size_t depth = 0; depth <= partition_columns_.size(); depth++) {
    std::vector<std::string> next;
    bool leaf = depth == partition_columns_.size();
    std::string want;
    if (!leaf) hive_escape(partition_columns_[depth].name.c_str(), want);
    want += "=";
    for (const std::string& dir : level) {
      std::string dirpath = options_.path + "/" + dir;
      DIR* dh = ::opendir(dirpath.c_str());
      if (!dh) {
        if (errno == ENOENT || errno == ENOTDIR) continue;
        fail_file("open directory", dirpath, errno);
      }
      std::vector<std::string> remove;
      while (struct dirent* e = ::readdir(dh)) {
        std::string name = e->d_name;
        if (!leaf) {
          if (name.compare(0, want.size(), want) == 0 && e->d_type != DT_REG)
            next.push_back(dir + name + "/");
          continue;
        }
        int64 seq;
        std::string ext = std::string(".") + format_->extension();
        if (parse_seq(name, "." + prefix, ext + kTempSuffix, &seq)) {
          *next_seq = std::max(*next_seq, seq + 1);
          if (!kept.count({dir, seq})) remove.push_back(dirpath + name);
        } else if (parse_seq(name, prefix, ext, &seq)) {
          *next_seq = std::max(*next_seq, seq + 1);
        }
      }
      ::closedir(dh);
      for (const std::string& path : remove) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail_file("remove", path, errno);
        dirs_to_sync_.push_back(dirpath);
        removed++;
      }
    }
    level = std::move(next);
  }
  return removed;
}

// Rolls every open file and renames every rolled one: all they hold is committed (close()
// follows the last commit of a pipeline that stops or finishes).
void FilesystemSink::close() {
  std::vector<Part*> parts;
  for (auto& [dir, part] : open_) parts.push_back(part.get());
  for (Part* p : parts) roll(*p);
  for (const Rolled& r : rolled_) rename_into_place(r, false);
  rolled_.clear();
  recorded_ = 0;
  sync_dirs();
}

}  // namespace arroyo
