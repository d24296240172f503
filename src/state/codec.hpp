// The byte format of checkpointed state: operators and sources write their state as a sequence
// of integers, byte strings and Datums into a StateEncoder and read it back, in the same order,
// from a StateDecoder, which checks every read against the end of the entry and reports a
// damaged entry as a corrupt checkpoint rather than crashing or guessing.
//
// Datums are stored in the server's internal representation (by-value words, detoasted varlenas,
// fixed-length bytes), so a checkpoint belongs to the PostgreSQL major version and architecture
// that wrote it, as WAL does.
#pragma once

#include "pg/postgres.hpp"

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace arroyo {

class StateEncoder {
 public:
  void clear() { bytes_.clear(); }
  const std::string& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

  void put_int(int64 v) { put_raw(&v, sizeof v); }
  void put_bool(bool v) { bytes_.push_back(v ? 1 : 0); }
  void put_bytes(const void* data, size_t len) {
    put_int(int64(len));
    put_raw(data, len);
  }
  void put_string(const std::string& s) { put_bytes(s.data(), s.size()); }
  // Variable-length integers (7 bits a byte, low first): small values take one byte. Signed
  // ones zigzag-encoded (0, -1, 1, -2, ... as 0, 1, 2, 3, ...).
  void put_varint(uint64 v) {
    char buf[10];
    int n = 0;
    while (v >= 0x80) {
      buf[n++] = char(v | 0x80);
      v >>= 7;
    }
    buf[n++] = char(v);
    bytes_.append(buf, n);
  }
  void put_zigzag(int64 v) { put_varint((uint64(v) << 1) ^ uint64(v >> 63)); }
  // A byte string with a variable-length length.
  void put_short_bytes(const void* data, size_t len) {
    put_varint(len);
    put_raw(data, len);
  }
  // One value of a type with the given length and passing convention; NULL allowed.
  // Runs PostgreSQL code (detoasting): call inside pg::call.
  void put_datum(Datum value, bool isnull, bool byval, int16 len);
  void put_raw(const void* data, size_t len) { bytes_.append(static_cast<const char*>(data), len); }

 private:
  std::string bytes_;
};

class StateDecoder {
 public:
  // `what` names the entry in errors ("window pane 3 of operator 2", say).
  StateDecoder(const char* data, size_t len, std::string what)
      : p_(data), end_(data + len), what_(std::move(what)) {}

  int64 get_int();
  bool get_bool();
  // A byte string, pointing into the entry (valid as long as the entry is).
  std::pair<const char*, size_t> get_bytes();
  uint64 get_varint();
  int64 get_zigzag() {
    uint64 u = get_varint();
    return int64(u >> 1) ^ -int64(u & 1);
  }
  std::pair<const char*, size_t> get_short_bytes();
  std::string get_string() {
    auto [p, n] = get_bytes();
    return std::string(p, n);
  }
  // A value written by put_datum, allocated in CurrentMemoryContext (call inside pg::call).
  Datum get_datum(bool* isnull, bool byval, int16 len);
  bool at_end() const { return p_ == end_; }
  // Fails unless the whole entry has been read.
  void expect_end();
  // Throws the corrupt-checkpoint error for this entry.
  [[noreturn]] void corrupt(const std::string& why) const;

 private:
  const char* take(size_t n);
  const char* p_;
  const char* end_;
  std::string what_;
};

// A record of a few integers (a source position, a watermark) as one entry's bytes.
std::string encode_ints(std::initializer_list<int64> values);
// Reads back exactly `n` integers encode_ints() wrote; `what` names the entry in errors.
std::vector<int64> decode_ints(const std::string& bytes, size_t n, const std::string& what);

}  // namespace arroyo
