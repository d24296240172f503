#include "connectors/sse/sse_parser.hpp"

#include <cstring>

namespace arroyo {

void SseParser::reset() {
  line_.clear();
  line_oversized_ = line_is_data_ = after_cr_ = false;
  at_start_ = true;
  bom_matched_ = 0;
  data_.clear();
  type_.clear();
  has_data_ = oversized_ = false;
  size_ = 0;
}

void SseParser::feed(const char* data, size_t len, std::vector<HttpMessage>& out) {
  size_t i = 0;
  // A UTF-8 byte order mark may open the stream, split across chunks or not.
  while (at_start_ && i < len) {
    if (data[i] != "\xEF\xBB\xBF"[bom_matched_]) {
      at_start_ = false;  // (the bytes of a partial mark are dropped)
      break;
    }
    i++;
    if (++bom_matched_ == 3) at_start_ = false;
  }
  while (i < len) {
    char c = data[i];
    if (c == '\n' && after_cr_) {  // the LF of a CR LF
      after_cr_ = false;
      i++;
      continue;
    }
    after_cr_ = false;
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(out);
      i++;
      continue;
    }
    // The run of bytes up to the next line end.
    size_t end = i;
    while (end < len && data[end] != '\r' && data[end] != '\n') end++;
    size_t run = end - i;
    if (!line_oversized_) {
      // A line may hold a field name, ':', a space and max_ bytes of data.
      size_t room = max_ + 64 - line_.size();
      line_.append(data + i, run < room ? run : room);
      if (run > room) {
        line_oversized_ = true;
        line_is_data_ = line_.compare(0, 5, "data:") == 0;
        value_start_ = line_.compare(0, 6, "data: ") == 0 ? 6 : 5;
        oversized_bytes_ = line_.size() + (run - room);
        line_.clear();
      }
    } else {
      oversized_bytes_ += run;
    }
    i = end;
  }
}

void SseParser::line(std::vector<HttpMessage>& out) {
  if (line_oversized_) {
    // A data line that long makes its event oversized; another field that long is skipped.
    line_oversized_ = false;
    if (line_is_data_) {
      size_ += oversized_bytes_ - value_start_ + (has_data_ ? 1 : 0);
      oversized_ = has_data_ = true;
      data_.clear();
    }
    return;
  }
  if (line_.empty()) {
    dispatch(out);
    return;
  }
  if (line_[0] == ':') {  // a comment
    line_.clear();
    return;
  }
  size_t colon = line_.find(':');
  std::string name = line_.substr(0, colon);
  const char* value = "";
  size_t len = 0;
  if (colon != std::string::npos) {
    value = line_.data() + colon + 1;
    len = line_.size() - colon - 1;
    if (len > 0 && value[0] == ' ') value++, len--;
  }
  field(name, value, len);
  line_.clear();
}

void SseParser::field(const std::string& name, const char* value, size_t len) {
  if (name == "data") {
    size_ += len + (has_data_ ? 1 : 0);
    if (!oversized_ && size_ > max_) {
      oversized_ = true;
      data_.clear();
    }
    if (!oversized_) {
      if (has_data_) data_.push_back('\n');
      data_.append(value, len);
    }
    has_data_ = true;
  } else if (name == "event") {
    type_.assign(value, len);
  } else if (name == "id") {
    if (memchr(value, '\0', len) == nullptr) last_id_.assign(value, len);
  } else if (name == "retry") {
    bool digits = len > 0 && len <= 9;
    for (size_t i = 0; i < len && digits; i++) digits = value[i] >= '0' && value[i] <= '9';
    if (digits) retry_ms_ = std::stoll(std::string(value, len));
  }
  // Other fields are ignored, as the standard says.
}

void SseParser::dispatch(std::vector<HttpMessage>& out) {
  if (has_data_) {
    HttpMessage m;
    m.type = type_.empty() ? "message" : type_;
    m.data = std::move(data_);
    m.id = last_id_;
    m.oversized = oversized_;
    m.size = size_;
    m.received_unix_us = http_now_unix_us();
    out.push_back(std::move(m));
  }
  data_.clear();
  type_.clear();
  has_data_ = oversized_ = false;
  size_ = 0;
}

}  // namespace arroyo
