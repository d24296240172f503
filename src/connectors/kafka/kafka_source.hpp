// The kafka source: reads every partition of one topic, including partitions added while it
// runs, decodes each message with the table's format and fills metadata columns. In a parallel
// pipeline (Connector::splits_source), worker s of N reads only the partitions p with
// p % N == s, new ones included; everything below (assignment, end detection, status,
// checkpoints, group commits) concerns the worker's own partitions only.
//
// Partitions are assigned by the source itself (no consumer-group membership): a TopicWatcher
// thread re-reads the topic's metadata every 10 seconds and new partitions are added to the
// assignment, read from their beginning. The source keeps each partition's next offset
// (positions()), can start from given offsets (start_from()), and commits its positions to the
// consumer group after each pipeline commit, for monitoring and for source.offset 'group'.
//
// Checkpoints hold the truth: every assigned partition's next offset (the start source.offset
// chose, resolved to a concrete offset when assigned, until a message is read), written when it
// changed since the previous checkpoint. A restored checkpoint overrides source.offset.
// Rescaled (a checkpoint of N workers resumed by N'), each worker takes the positions of its
// partitions from whichever old worker read them and writes all of them in its first
// checkpoint.
#pragma once

#include "connectors/kafka/kafka_client.hpp"
#include "core/subtask_share.hpp"
#include "formats/format.hpp"

#include <map>
#include <memory>

namespace arroyo {

class KafkaSource : public Source {
 public:
  explicit KafkaSource(const TableSpec& spec);
  ~KafkaSource() override;

  void open(const RuntimeInfo& info) override;
  PollResult poll(Batch& out) override;
  int64 bad_rows() const override { return bad_data_.bad_rows(); }
  // Partitions are the splits: each holds the watermark back (see Source::active_splits).
  const std::vector<int32>* active_splits() const override { return &active_splits_; }
  // Connected, and none of the topic's partitions is this worker's.
  bool has_share() const override { return assigned_ == 0 || owned_ > 0; }
  void committed() override;
  std::string status() const override;
  void close() override;
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism) override;

  // The next offset to read in each partition read so far: what a checkpoint would store.
  std::map<int32, int64> positions() const { return positions_; }
  // Called before open(): start the given partitions at these offsets (a restored checkpoint);
  // other partitions start where source.offset says.
  void start_from(std::map<int32, int64> positions) { start_positions_ = std::move(positions); }

 private:
  enum class StartMode { Earliest, Latest, Group };

  void check_client_errors();
  void update_assignment();
  bool assign(int from, int to, const TopicState& state);
  bool resolve_starts(int from, int to, std::map<int32, int64>& starts);
  // Handles one message or consumer event; returns the payload bytes it used.
  size_t handle(const rd_kafka_message_t* message, Batch& out, TimestampTz now);
  void decode(const rd_kafka_message_t* message, Batch& out, TimestampTz now);
  void fill_metadata(const rd_kafka_message_t* message, Batch& out, int from);
  void handle_event(const rd_kafka_message_t* message);
  [[noreturn]] void fail_permanent(rd_kafka_resp_err_t code, const std::string& text);
  void mark_done(int32 partition);
  void note_unreachable(const std::string& why);
  void note_reachable();
  std::string reading_status() const;
  void commit_positions(bool wait);
  void shut_down();

  // From the table's options.
  std::string table_, topic_, label_;
  KafkaClientConfig config_;
  std::unique_ptr<RowDecoder> decoder_;
  std::vector<KafkaMetadataColumn> metadata_;
  BadData bad_data_;  // bad_data, and the messages it dropped
  StartMode start_mode_;
  std::string group_id_;  // empty: derived from the database and pipeline at open()
  bool read_committed_;
  bool preview_ = false;  // a preview commits no offsets to the consumer group
  bool stop_at_latest_;
  int64 max_message_bytes_;

  // Running state.
  Latch* latch_ = nullptr;
  std::unique_ptr<KafkaClient> client_;
  rd_kafka_queue_t* queue_ = nullptr;
  std::unique_ptr<TopicWatcher> watcher_;
  uint64 seen_version_ = 0;
  bool assign_pending_ = false;       // an assignment could not resolve its starts: retry
  SubtaskShare share_;                // which partitions are this worker's
  int assigned_ = 0;                  // partitions 0 .. assigned_-1 are known (ours assigned)
  int owned_ = 0;                     // how many of those are this worker's
  std::vector<int64> end_offsets_;    // source.stop_at 'latest': where each partition ends
  std::vector<bool> done_;            // ... and whether it got there (ours only)
  int done_count_ = 0;                // our partitions at their end
  std::vector<int32> active_splits_;  // our assigned partitions not at their end
  bool ended_ = false;
  bool rescaled_ = false;  // resumed from a checkpoint of another parallelism
  ClusterReachability reachability_;
  std::string status_ = "connecting";  // for stream_pipelines.source_status
  // positions_: next offset per assigned partition (RD_KAFKA_OFFSET_BEGINNING until known);
  // checkpointed_: as the last checkpoint wrote them; committed_: as committed to the group.
  std::map<int32, int64> positions_, checkpointed_, committed_, start_positions_;
  Datum topic_datum_ = 0;  // the topic as text, for this poll's metadata columns
  std::vector<rd_kafka_message_t*> messages_;
};

}  // namespace arroyo
