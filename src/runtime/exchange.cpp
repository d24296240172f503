#include "runtime/exchange.hpp"

#include "operators/group_table.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "common/hashfn.h"
}

namespace arroyo {

namespace {

constexpr size_t pad8(size_t n) { return (n + 7) & ~size_t(7); }

void append_zeros(std::string& s, size_t n) { s.append(n, '\0'); }

template <typename T>
void append_value(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

[[noreturn]] void bad_frame(const char* why) {
  pg::fail(ERRCODE_INTERNAL_ERROR, std::string("arroyo_stream: a frame between a pipeline's "
                                               "workers does not decode: ") +
                                       why);
}

}  // namespace

RowCodec::RowCodec(TupleDesc desc) {
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    columns_.push_back({att->attlen, att->attbyval});
  }
  row_head_ = pad8(1 + columns_.size()) + 8;
}

void RowCodec::encode(const Batch& rows, int row, std::string& frame) const {
  size_t start = frame.size();
  frame.resize(start + row_head_);
  char* head = &frame[start];
  head[0] = char(rows.op(row));
  const bool* nulls = rows.nulls(row);
  for (size_t c = 0; c < columns_.size(); c++) head[1 + c] = nulls[c];
  TimestampTz t = rows.time(row);
  memcpy(head + row_head_ - 8, &t, 8);
  const Datum* values = rows.values(row);
  for (size_t c = 0; c < columns_.size(); c++) {
    if (nulls[c]) continue;
    const Column& col = columns_[c];
    if (col.byval) {
      append_value(frame, values[c]);
      continue;
    }
    const char* p;
    size_t n;
    struct varlena* flat = nullptr;
    if (col.len > 0) {
      p = DatumGetPointer(values[c]);
      n = size_t(col.len);
    } else if (col.len == -1) {
      struct varlena* v = (struct varlena*)DatumGetPointer(values[c]);
      if (VARATT_IS_EXTENDED(v)) v = flat = pg::call([&] { return pg_detoast_datum_packed(v); });
      p = (const char*)v;
      n = VARSIZE_ANY(v);
    } else {
      p = DatumGetCString(values[c]);
      n = strlen(p) + 1;
    }
    append_value(frame, uint64(n));
    frame.append(p, n);
    append_zeros(frame, pad8(n) - n);
    if (flat && (Pointer)flat != DatumGetPointer(values[c])) pfree(flat);
  }
}

void RowCodec::decode(char* data, size_t len, uint32 count, Batch& out) const {
  size_t at = 0;
  for (uint32 r = 0; r < count; r++) {
    if (out.full()) bad_frame("more rows than a batch holds");
    if (len - at < row_head_) bad_frame("a row is cut short");
    const char* head = data + at;
    TimestampTz t;
    memcpy(&t, head + row_head_ - 8, 8);
    RowOp op = head[0] == char(RowOp::Delete) ? RowOp::Delete : RowOp::Insert;
    int row = out.append(t, op);
    at += row_head_;
    Datum* values = out.values(row);
    bool* nulls = out.nulls(row);
    for (size_t c = 0; c < columns_.size(); c++) {
      if (head[1 + c]) continue;
      nulls[c] = false;
      if (len - at < 8) bad_frame("a value is cut short");
      uint64 word;
      memcpy(&word, data + at, 8);
      at += 8;
      if (columns_[c].byval) {
        values[c] = Datum(word);
        continue;
      }
      if (word > len - at || pad8(word) > len - at) bad_frame("a value is longer than its frame");
      values[c] = PointerGetDatum(data + at);
      at += pad8(word);
    }
  }
  if (at != len) bad_frame("bytes are left after its rows");
}

KeyRouter::KeyRouter(TupleDesc desc, std::vector<int> key_columns) {
  for (int index : key_columns) {
    Form_pg_attribute att = TupleDescAttr(desc, index);
    KeyType type(att->atttypid, att->attcollation);
    columns_.push_back({index, type.hash, type.collation, type.len, type.bitwise});
  }
}

// The same hash as GroupTable::hash over the same columns, so that a group's hash also names
// its key group (its low bits).
int KeyRouter::key_group(const Batch& rows, int row) const {
  if (columns_.empty()) return 0;
  const Datum* values = rows.values(row);
  const bool* nulls = rows.nulls(row);
  uint32 h = 0;
  for (const Column& c : columns_) {
    Datum v = values[c.index];
    uint32 k = nulls[c.index] ? 0x9e3779b9u
               : c.bitwise    ? mix_bits(datum_bits(v, c.len))
                              : DatumGetUInt32(FunctionCall1Coll(c.hash, c.collation, v));
    h = hash_combine(h, k);
  }
  return key_group_of(murmurhash32(h));
}

ExchangeOperator::ExchangeOperator(int id, TupleDesc desc, std::vector<int> key_columns,
                                   int subtask, int parallelism, FrameTransport& transport)
    : id_(id),
      subtask_(subtask),
      parallelism_(parallelism),
      codec_(desc),
      router_(desc, std::move(key_columns)),
      transport_(transport),
      own_(std::make_unique<Batch>(desc->natts)),
      frames_(size_t(parallelism)),
      counts_(size_t(parallelism), 0) {}

std::string ExchangeOperator::header(FrameKind kind, int id, int64 value) {
  FrameHeader h{uint8(kind), 0, uint16(id), 0, value};
  return std::string(reinterpret_cast<const char*>(&h), sizeof(h));
}

void ExchangeOperator::push(int, Batch& rows) {
  own_->clear();
  pg::call([&] {
    for (int i = 0; i < rows.size(); i++) {
      int to = router_.gathers() ? 0 : key_group_owner(router_.key_group(rows, i), parallelism_);
      if (to == subtask_) {
        own_->append_rows(rows, i, i + 1);
        continue;
      }
      std::string& f = frames_[size_t(to)];
      if (f.empty()) f = header(FrameKind::Rows, id_, 0);
      counts_[size_t(to)]++;
      // Encoding runs PostgreSQL code only to detoast, under this pg::call: no C++ object
      // with a destructor is created in between.
      codec_.encode(rows, i, f);
    }
  });
  for (int w = 0; w < parallelism_; w++) {
    std::string& f = frames_[size_t(w)];
    if (f.empty()) continue;
    reinterpret_cast<FrameHeader*>(&f[0])->rows = counts_[size_t(w)];
    transport_.send(w, std::move(f));
    f.clear();
    counts_[size_t(w)] = 0;
  }
  emit(*own_);
}

void ExchangeOperator::broadcast(FrameKind kind, int64 value) {
  for (int w = 0; w < parallelism_; w++)
    if (w != subtask_) transport_.send(w, header(kind, id_, value));
}

void ExchangeOperator::watermark(TimestampTz wm) {
  emit_watermark(wm);
  broadcast(FrameKind::Watermark, wm);
}

void ExchangeOperator::idle() {
  emit_idle();
  broadcast(FrameKind::Idle, 0);
}

void ExchangeOperator::end() {
  emit_end();
  broadcast(FrameKind::End, 0);
}

void ExchangeOperator::send_barrier(int64 seq) { broadcast(FrameKind::Barrier, seq); }

}  // namespace arroyo
