#include "connectors/http_common/http_client.hpp"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace arroyo {

namespace {

// A header name is an RFC 9110 token.
bool is_token_char(char c) {
  return isalnum(static_cast<unsigned char>(c)) || strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// What http_perform's callbacks see.
struct Transfer {
  const std::function<void(long)>* on_headers;
  const std::function<bool(const char*, size_t)>* on_data;
  const std::function<bool()>* keep_going;
  CURL* curl;
  bool headers_seen = false;
  bool aborted = false;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  // The blank line ending a final (not 1xx) response's headers.
  if ((len == 2 && data[0] == '\r' && data[1] == '\n') || (len == 1 && data[0] == '\n')) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && !t->headers_seen) {
      t->headers_seen = true;
      if (*t->on_headers) (*t->on_headers)(status);
    }
  }
  return len;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (*t->on_data && !(*t->on_data)(data, len)) {
    t->aborted = true;
    return 0;  // a write error: curl stops
  }
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (*t->keep_going && !(*t->keep_going)()) {
    t->aborted = true;
    return 1;
  }
  return 0;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

bool parse_http_headers(const std::string& text, std::vector<HttpHeader>* out, std::string* why) {
  out->clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (trim(item).empty()) {
      if (comma == std::string::npos && !out->empty()) break;  // a trailing comma
      *why = "Expected 'Name: value' pairs separated by commas.";
      return false;
    }
    size_t colon = item.find(':');
    if (colon == std::string::npos) {
      *why = "Header \"" + trim(item) + "\" has no ':' between its name and its value.";
      return false;
    }
    HttpHeader h{trim(item.substr(0, colon)), trim(item.substr(colon + 1))};
    if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), is_token_char)) {
      *why = "\"" + h.name + "\" is not a valid header name.";
      return false;
    }
    for (char c : h.value)
      if (c == '\r' || c == '\n' || c == '\0') {
        *why = "The value of header \"" + h.name + "\" holds a line break.";
        return false;
      }
    if (out->size() >= 100) {
      *why = "At most 100 headers.";
      return false;
    }
    out->push_back(std::move(h));
  }
  return true;
}

bool check_http_endpoint(const std::string& url, std::string* why) {
  for (char c : url)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      *why = "The URL holds a space or a control character.";
      return false;
    }
  CURLU* u = curl_url();
  if (!u) {
    *why = "out of memory";
    return false;
  }
  bool ok = false;
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    *why = std::string("Not a valid URL: ") + curl_url_strerror(rc) + ".";
  } else {
    char* scheme = nullptr;
    char* host = nullptr;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
      *why = "Expected an http:// or https:// URL.";
    else if (!host || !*host)
      *why = "The URL has no host.";
    else
      ok = true;
    curl_free(scheme);
    curl_free(host);
  }
  curl_url_cleanup(u);
  return ok;
}

void http_global_init() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK)
    throw std::runtime_error(std::string("curl_global_init failed: ") + curl_easy_strerror(rc));
}

HttpResult http_perform(const HttpRequest& req, const std::function<void(long)>& on_headers,
                        const std::function<bool(const char*, size_t)>& on_data,
                        const std::function<bool()>& keep_going) {
  HttpResult result;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    result.error = "curl_easy_init failed";
    return result;
  }
  CURL* c = curl.get();
  Transfer t{&on_headers, &on_data, &keep_going, c};
  std::unique_ptr<curl_slist, SlistDeleter> list;
  for (const HttpHeader& h : req.headers) {
    std::string line = h.name + ": " + h.value;
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (!next) {
      result.error = "out of memory";
      return result;
    }
    list.release();
    list.reset(next);
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, req.fail_on_error ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  bool sends_body =
      !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
  if (sends_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
  }
  if (req.method != (sends_body ? "POST" : "GET"))
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  result.aborted = t.aborted;
  if (rc == CURLE_OK) {
    result.ok = true;
  } else if (rc == CURLE_HTTP_RETURNED_ERROR) {
    result.error = "HTTP " + std::to_string(result.status);
  } else {
    result.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    while (!result.error.empty() && result.error.back() == '\n') result.error.pop_back();
  }
  return result;
}

HttpThread::HttpThread(size_t queue_max_messages, size_t queue_max_bytes,
                       std::function<void()> wake)
    : max_messages_(queue_max_messages), max_bytes_(queue_max_bytes), wake_(std::move(wake)) {}

HttpThread::~HttpThread() { stop(); }

void HttpThread::start() {
  http_global_init();
  // The thread starts with every signal blocked (it inherits this mask), so that PostgreSQL's
  // handlers run only on the worker's own thread.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::thread([this] { body(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw std::runtime_error("could not start the client thread");
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void HttpThread::body() noexcept {
  try {
    run();
  } catch (const std::exception& e) {
    set_status(std::string("failed: ") + e.what());
  } catch (...) {
    set_status("failed");
  }
}

void HttpThread::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t HttpThread::take(std::vector<HttpMessage>& out, size_t max) {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (n < max && !queue_.empty()) {
      queued_bytes_ -= queue_.front().data.size();
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
      n++;
    }
  }
  if (n) changed_.notify_all();
  return n;
}

std::string HttpThread::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

bool HttpThread::stopping() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopping_;
}

bool HttpThread::sleep_us(int64_t us) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, std::chrono::microseconds(us), [this] { return stopping_; });
  return !stopping_;
}

bool HttpThread::push(HttpMessage&& m) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Room: fewer messages than the bound, and (unless the queue is empty) bytes too.
    changed_.wait(lock, [&] {
      return stopping_ || (queue_.size() < max_messages_ &&
                           (queue_.empty() || queued_bytes_ + m.data.size() <= max_bytes_));
    });
    if (stopping_) return false;
    queued_bytes_ += m.data.size();
    queue_.push_back(std::move(m));
  }
  wake_();
  return true;
}

void HttpThread::set_status(std::string status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status == status_) return;
    status_ = std::move(status);
  }
  wake_();
}

int64_t http_now_unix_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string http_seconds_text(int64_t us) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f s", double(us) / 1e6);
  return buf;
}

}  // namespace arroyo
