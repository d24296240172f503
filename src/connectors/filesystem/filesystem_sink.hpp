// The filesystem sink: rows go into rolling files under a directory, one open file per
// partition (Hive-style `column=value/` directories from partitioning.fields), rolled by size
// (rolling_policy.file_size) and age (rolling_policy.interval).
//
// Names: a file is `<pipeline>-<subtask>-<sequence>.<ext>` (the sequence counts up per
// pipeline and subtask); until it is committed it is `.<that name>.inprogress`.
//
// Exactly-once: commit() writes and fsyncs what every open file has been given; the checkpoint
// (in the pipeline's transaction) records the sequence counter, each open file with its length
// and each rolled file waiting for its rename; committed() renames those rolled files into
// place. A restart (restore) finishes the renames the checkpoint recorded, cuts every open
// file back to its recorded length and keeps appending to it, and deletes this pipeline's
// in-progress files the checkpoint does not cover (they hold only rows the restart produces
// again). Stopping or finishing the pipeline (close) rolls and renames every file.
//
// Rescaled (a checkpoint of N workers resumed by N'), worker s inherits the old workers w with
// w % N' == s. Its own old entry (w == s) it restores as above; every other inherited worker's
// files it finishes under their names: the recorded renames, each open file cut back to its
// recorded length, given its trailer and renamed into place, that worker's other in-progress
// files deleted (also for an inherited worker without an entry). Such a worker's index is at
// least N', so no new worker writes files of its prefix: names cannot collide. All of this is
// repeatable (a crash before the first checkpoint after the rescale finds it done), and that
// checkpoint writes the worker's whole state.
#pragma once

#include "connectors/filesystem/file_format.hpp"
#include "connectors/filesystem/filesystem_options.hpp"
#include "core/connector.hpp"

#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

namespace arroyo {

class FilesystemSink : public Sink {
 public:
  explicit FilesystemSink(const TableSpec& spec);
  ~FilesystemSink() override;

  void open(const RuntimeInfo& info) override;
  void write(const Batch& rows) override;
  void commit() override;
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& entry) override;
  void rescale(int old_parallelism) override;
  void committed() override;
  void close() override;

 private:
  struct Part {       // one open file
    std::string dir;  // relative directory: "" or "col=value/.../"
    int64 seq;
    std::string id;  // 16 random bytes (Avro's sync marker)
    int fd = -1;
    int64 size = 0;     // bytes written to the file
    std::string out;    // framed bytes not yet written
    std::string block;  // rows of the open block
    int64 block_rows = 0;
    TimestampTz opened = 0;
    bool dirty = false;  // written since its last fsync
  };
  struct Rolled {  // a rolled file waiting for its rename
    std::string dir;
    int64 seq;
  };

  std::string final_name(int64 seq) const { return final_name(prefix_, seq); }
  std::string temp_name(int64 seq) const { return temp_name(prefix_, seq); }
  std::string final_name(const std::string& prefix, int64 seq) const;
  std::string temp_name(const std::string& prefix, int64 seq) const;
  std::string full(const std::string& dir, const std::string& name) const;
  std::string partition_dir(const TableSpec& spec, const Datum* values, const bool* nulls);
  Part& part_for(const std::string& dir);
  void roll(Part& p);
  void flush(Part& p, bool frame);
  void recover(const std::vector<Rolled>& rolled, const std::vector<Part>& open);
  int reopen_at_checkpoint(const std::string& prefix, const Part& saved, bool* cut);
  void finish_inherited(const std::string& prefix, const std::vector<Rolled>& rolled,
                        const std::vector<Part>& open);
  void finish_rescale();
  int64 remove_uncovered(const std::string& prefix,
                         const std::set<std::pair<std::string, int64>>& kept, int64* next_seq);
  void rename_into_place(const Rolled& r, bool may_be_done) {
    rename_into_place(prefix_, r, may_be_done);
  }
  void rename_into_place(const std::string& prefix, const Rolled& r, bool may_be_done);
  void sync_dirs();
  std::string encode_state() const;

  TableSpec spec_;
  FilesystemOptions options_;
  std::unique_ptr<FileFormat> format_;
  struct PartitionColumn {
    std::string name;
    int index;
    FmgrInfo output;
  };
  std::vector<PartitionColumn> partition_columns_;
  std::string name_;    // the pipeline's name, as file names hold it
  std::string prefix_;  // "<pipeline>-<subtask>-"
  int subtask_ = 0, parallelism_ = 1;
  int rescaled_from_ = 0;         // the checkpoint's parallelism, when it was another
  std::set<int> finished_;        // inherited old workers whose files are finished
  bool rescale_pending_ = false;  // inherited old workers without an entry are still to clean
  bool recovered_ = false;
  int64 next_seq_ = 1;
  std::map<std::string, std::unique_ptr<Part>> open_;  // by relative directory
  std::vector<Rolled> rolled_;                         // rolled, not yet renamed
  size_t recorded_ = 0;  // rolled_[0, recorded_) are in the last checkpoint
  std::vector<std::string> dirs_to_sync_;
  std::string last_state_;             // the entry of the last checkpoint
  MemoryContext functions_ = nullptr;  // owns the partition columns' FmgrInfo caches
};

}  // namespace arroyo
