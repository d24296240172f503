// The Server-Sent Events stream format (the WHATWG HTML standard, "event stream
// interpretation"): lines ending in CR LF, LF or CR; fields event:, data: (lines joined with
// LF), id: (the last event id, which sticks to later events), retry: (the reconnection time);
// lines starting with ':' are comments; a blank line dispatches the event. A loop over bytes,
// no recursion; a line or event larger than the limit is dropped as it arrives (never held in
// memory) and its event reported oversized. No PostgreSQL, no sockets.
#pragma once

#include "connectors/http_common/http_client.hpp"

namespace arroyo {

class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes) : max_(max_event_bytes) {}
  // Parses bytes of the stream; appends the events they complete to `out`.
  void feed(const char* data, size_t len, std::vector<HttpMessage>& out);
  // Forgets a partly received event (its connection ended); keeps the last event id.
  void reset();
  const std::string& last_id() const { return last_id_; }
  void set_last_id(std::string id) { last_id_ = std::move(id); }
  // The reconnection time the server asked for (retry:), in ms; -1 if it did not.
  int64_t retry_ms() const { return retry_ms_; }

 private:
  void line(std::vector<HttpMessage>& out);
  void field(const std::string& name, const char* value, size_t len);
  void dispatch(std::vector<HttpMessage>& out);

  const size_t max_;
  std::string line_;             // the line so far
  bool line_oversized_ = false;  // the line outgrew the limit: its bytes are skipped
  bool line_is_data_ = false;    // ... and it is a data: line
  size_t oversized_bytes_ = 0;   // ... of so many bytes so far
  size_t value_start_ = 0;       // ... whose value starts after this many ("data: ")
  bool after_cr_ = false;        // the last byte was a CR (a LF right after it ends nothing)
  bool at_start_ = true;         // before the stream's first byte (a BOM is skipped)
  int bom_matched_ = 0;          // bytes of a BOM seen so far
  std::string data_, type_;
  bool has_data_ = false;
  bool oversized_ = false;
  size_t size_ = 0;  // the event's data size, counted also when oversized
  std::string last_id_;
  int64_t retry_ms_ = -1;
};

}  // namespace arroyo
