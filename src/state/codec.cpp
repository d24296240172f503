#include "state/codec.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/detoast.h"
}

namespace arroyo {

void StateEncoder::put_datum(Datum value, bool isnull, bool byval, int16 len) {
  put_bool(!isnull);
  if (isnull) return;
  if (byval) {
    put_raw(&value, sizeof value);
  } else if (len == -1) {
    // Compressed, out-of-line and expanded values are stored flat.
    struct varlena* v = (struct varlena*)DatumGetPointer(value);
    if (VARATT_IS_EXTENDED(v)) v = detoast_attr(v);
    put_bytes(v, VARSIZE_ANY(v));
  } else if (len == -2) {
    const char* s = DatumGetCString(value);
    put_bytes(s, strlen(s) + 1);
  } else {
    put_raw(DatumGetPointer(value), size_t(len));
  }
}

const char* StateDecoder::take(size_t n) {
  if (size_t(end_ - p_) < n) corrupt("it ends early");
  const char* at = p_;
  p_ += n;
  return at;
}

int64 StateDecoder::get_int() {
  int64 v;
  memcpy(&v, take(sizeof v), sizeof v);
  return v;
}

uint64 StateDecoder::get_varint() {
  uint64 v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8 c = uint8(*take(1));
    v |= uint64(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      if (shift == 63 && c > 1) break;
      return v;
    }
  }
  corrupt("a variable-length integer is too long");
}

std::pair<const char*, size_t> StateDecoder::get_short_bytes() {
  uint64 n = get_varint();
  if (n > uint64(end_ - p_)) corrupt("it ends early");
  return {take(size_t(n)), size_t(n)};
}

bool StateDecoder::get_bool() {
  char c = *take(1);
  if (c != 0 && c != 1) corrupt("a flag holds " + std::to_string(int(c)));
  return c == 1;
}

std::pair<const char*, size_t> StateDecoder::get_bytes() {
  int64 n = get_int();
  if (n < 0 || n > end_ - p_) corrupt("a length of " + std::to_string(n) + " runs past its end");
  return {take(size_t(n)), size_t(n)};
}

Datum StateDecoder::get_datum(bool* isnull, bool byval, int16 len) {
  *isnull = !get_bool();
  if (*isnull) return 0;
  if (byval) {
    Datum d;
    memcpy(&d, take(sizeof d), sizeof d);
    return d;
  }
  if (len == -1 || len == -2) {
    auto [p, n] = get_bytes();
    if (len == -1 && (n < 1 || (!VARATT_IS_1B(p) && n < VARHDRSZ) || VARSIZE_ANY(p) != n))
      corrupt("a variable-length value is damaged");
    if (len == -2 && (n < 1 || p[n - 1] != '\0')) corrupt("a string value is damaged");
    char* copy = (char*)palloc(n);
    memcpy(copy, p, n);
    return PointerGetDatum(copy);
  }
  const char* p = take(size_t(len));
  char* copy = (char*)palloc(size_t(len));
  memcpy(copy, p, size_t(len));
  return PointerGetDatum(copy);
}

void StateDecoder::expect_end() {
  if (!at_end()) corrupt(std::to_string(end_ - p_) + " bytes are left over");
}

std::string encode_ints(std::initializer_list<int64> values) {
  StateEncoder e;
  for (int64 v : values) e.put_int(v);
  return e.bytes();
}

std::vector<int64> decode_ints(const std::string& bytes, size_t n, const std::string& what) {
  StateDecoder d(bytes.data(), bytes.size(), what);
  std::vector<int64> out(n);
  for (int64& v : out) v = d.get_int();
  d.expect_end();
  return out;
}

void StateDecoder::corrupt(const std::string& why) const {
  pg::fail(ERRCODE_DATA_CORRUPTED, "checkpoint is corrupt: " + what_ + " cannot be read",
           "The stored entry is damaged: " + why + ".",
           "The pipeline cannot resume from this checkpoint. Drop it (stream_drop) and create it "
           "again to start from scratch.");
}

}  // namespace arroyo
