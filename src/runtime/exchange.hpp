// Exchanges: how a pipeline that runs as N workers (`SET parallelism = N`) moves rows between
// them. Every worker runs the whole dataflow over its share of the input; before each keyed
// operator (an aggregate, a join, a top-N, window functions, an updating table target) the
// dataflow puts an exchange, which sends each row to the worker that owns its key:
//
//  * a row's key (its key columns, hashed with their types' own hash functions) falls in one
//    of kKeyGroups key groups, and worker w owns a contiguous range of them
//    (core/key_groups.hpp);
//  * an exchange with no key columns (a global aggregate, a target that cannot be written by
//    several workers) gathers every row into worker 0;
//  * rows a worker owns go straight on; the others are encoded into frames (below) which the
//    worker's links (worker/worker_group.hpp) carry to their owner through shm_mq. Watermarks,
//    idleness and the end are broadcast to every other worker, so each worker's copy of the
//    keyed operator sees every input's progress (its merge node combines them as the graph
//    combines any node's inputs).
//
// Frames also carry epoch barriers (see Dataflow::end_epoch).
#pragma once

#include "core/key_groups.hpp"
#include "core/operator.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arroyo {

// What a frame between workers carries.
enum class FrameKind : uint8 { Rows = 1, Watermark, Idle, End, Barrier };

// A frame's fixed start: its kind, the exchange it belongs to, and for rows their count, for a
// watermark its time, for a barrier its epoch.
struct FrameHeader {
  uint8 kind;
  uint8 pad;
  uint16 exchange;
  uint32 rows;
  int64 value;
};

// Where frames for other workers go (the worker's links); queued, never blocking.
class FrameTransport {
 public:
  virtual ~FrameTransport() = default;
  virtual void send(int worker, std::string&& frame) = 0;
};

// A worker's links to the other workers of its pipeline (worker/worker_group.hpp).
class WorkerLinks : public FrameTransport {
 public:
  // Sends what the queues take without blocking.
  virtual void flush() = 0;
  // Hands frames that arrived to `f` (worker, data, length), at most `max`; returns how many.
  virtual int receive(const std::function<void(int, char*, size_t)>& f, int max) = 0;
  // Bytes of frames waiting to be sent.
  virtual size_t queued_bytes() const = 0;
};

// Encodes rows of one row type into frames and decodes them back, by value: a by-reference
// value is copied whole (detoasted), each one 8-byte aligned so that a decoded row can point
// into the frame.
class RowCodec {
 public:
  explicit RowCodec(TupleDesc desc);
  // Appends row `row` of `rows` to `frame`.
  void encode(const Batch& rows, int row, std::string& frame) const;
  // Appends the `count` rows of `data` (a frame's body, copied into memory that outlives the
  // batch) to `out`, whose by-reference values then point into `data`; fails on a frame that
  // does not decode.
  void decode(char* data, size_t len, uint32 count, Batch& out) const;

 private:
  struct Column {
    int16 len;
    bool byval;
  };
  std::vector<Column> columns_;
  size_t row_head_;  // op + nulls, padded to 8, then the event time
};

// Hashes rows by some of their columns into key groups, with the columns' types' own hash
// functions (the same in every worker).
class KeyRouter {
 public:
  KeyRouter(TupleDesc desc, std::vector<int> key_columns);
  bool gathers() const { return columns_.empty(); }
  // The key group of row `row` (0 when the router gathers).
  int key_group(const Batch& rows, int row) const;

 private:
  struct Column {
    int index;
    FmgrInfo* hash;
    Oid collation;
    int16 len;
    bool bitwise;
  };
  std::vector<Column> columns_;
};

// The sending half of an exchange: a node with one input that emits the rows this worker owns
// and frames the rest for their owners. Its output feeds the exchange's merge node, whose
// other inputs are the rows other workers send (fed by the Dataflow from the links).
class ExchangeOperator : public Operator {
 public:
  ExchangeOperator(int id, TupleDesc desc, std::vector<int> key_columns, int subtask,
                   int parallelism, FrameTransport& transport);
  void push(int port, Batch& rows) override;
  void watermark(TimestampTz wm) override;
  void idle() override;
  void end() override;
  // Sends a barrier for epoch `seq` to every other worker (after all rows sent before it).
  void send_barrier(int64 seq);
  const RowCodec& codec() const { return codec_; }

 private:
  void broadcast(FrameKind kind, int64 value);
  static std::string header(FrameKind kind, int id, int64 value);

  int id_, subtask_, parallelism_;
  RowCodec codec_;
  KeyRouter router_;
  FrameTransport& transport_;
  std::unique_ptr<Batch> own_;
  std::vector<std::string> frames_;  // per worker: the frame being filled
  std::vector<uint32> counts_;       // rows in it
};

}  // namespace arroyo
