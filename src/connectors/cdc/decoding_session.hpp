// The logical decoding of one pipeline: its replication slot (arroyo_<database>_<pipeline>),
// the decoding context reading the WAL, and a change buffer per regular table the pipeline
// reads. A backend holds at most one replication slot, so every CDC source of a pipeline's
// worker shares this one session: one slot, one initial snapshot in which every table is read,
// one pass over the WAL that routes each change to its table's buffer.
//
// Decoding runs once every table's buffer is ready (its source set how it reads the table and
// what a restored checkpoint says it had polled) and drained. The slot is told the smallest
// position any table's committed checkpoint covers.
#pragma once

#include "connectors/cdc/change_buffer.hpp"

#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "replication/logical.h"
}

namespace arroyo {

class DecodingSession {
 public:
  // The session of this process's pipeline, created by its first CDC source. A temporary
  // session (a preview's) has a temporary slot: never persisted, gone when the process exits.
  static std::shared_ptr<DecodingSession> attach(const std::string& slot_name,
                                                 const std::string& pipeline_name,
                                                 bool temporary = false);
  ~DecodingSession();
  DecodingSession(const DecodingSession&) = delete;
  DecodingSession& operator=(const DecodingSession&) = delete;

  // Adds the buffer of a table of `natts` columns (not ready yet).
  ChangeBuffer* add_table(Oid relid, int natts, const std::string& table_name);

  // In the snapshot transaction (REPEATABLE READ, nothing read yet): the first call creates the
  // slot (ephemeral), waits for its consistent point and makes it this transaction's snapshot.
  // Returns the position decoding starts after.
  XLogRecPtr begin_snapshot();
  // Makes the slot persistent (before the snapshot's transaction commits; idempotent).
  void persist();
  // Acquires the slot a checkpoint's positions are in, once; a missing slot fails the pipeline.
  void acquire();

  // Decodes the WAL written so far into the buffers, if every buffer is ready and drained.
  // Runs between the pipeline's transactions.
  void decode();
  // Tells the slot the smallest position the tables' committed checkpoints cover.
  void confirm();

 private:
  DecodingSession(const std::string& slot_name, const std::string& pipeline_name);
  static constexpr int kPrefetchRows = 64 * 1024;  // decoding stops past this many rows
  bool decodable() const;
  void start();
  int buffered_rows() const;

  std::string slot_name_, pipeline_name_;
  bool temporary_ = false;
  std::vector<std::string> table_names_;
  MemoryContext memory_ = nullptr;
  ChangeRouter* router_ = nullptr;
  LogicalDecodingContext* ctx_ = nullptr;
  XLogRecPtr snapshot_start_ = InvalidXLogRecPtr;  // set by the first begin_snapshot
  XLogRecPtr confirmed_ = InvalidXLogRecPtr;       // what the slot was told last
};

}  // namespace arroyo
