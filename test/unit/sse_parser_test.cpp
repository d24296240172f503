// The HTTP connectors' PostgreSQL-free parts: the Server-Sent Events parser
// (src/connectors/sse/sse_parser.cpp) on well-formed and hostile streams, and the header and
// endpoint checks of src/connectors/http_common/http_client.cpp.
#include "connectors/sse/sse_parser.hpp"

#include "unit.hpp"

using namespace arroyo;

namespace {

// Feeds `stream` in chunks of `chunk` bytes (0: at once); returns "type|id|data" per event.
std::string parse(const std::string& stream, size_t chunk = 0, size_t max = 1000,
                  SseParser* with = nullptr) {
  SseParser own(max);
  SseParser& p = with ? *with : own;
  std::vector<HttpMessage> events;
  if (chunk == 0) chunk = stream.size() ? stream.size() : 1;
  for (size_t i = 0; i < stream.size(); i += chunk)
    p.feed(stream.data() + i, std::min(chunk, stream.size() - i), events);
  std::string out;
  for (const HttpMessage& e : events)
    out += std::string(out.empty() ? "" : " ; ") +
           (e.type + "|" + e.id + "|" +
            (e.oversized ? "<oversized " + std::to_string(e.size) + ">" : e.data));
  return out;
}

// The expected events, as parse() shows them.
std::string V(std::initializer_list<std::string> events) {
  std::string out;
  for (const std::string& e : events) out += (out.empty() ? "" : " ; ") + e;
  return out;
}

std::string headers_error(const std::string& text) {
  std::vector<HttpHeader> out;
  std::string why;
  return parse_http_headers(text, &out, &why) ? "" : why;
}

std::string endpoint_error(const std::string& url) {
  std::string why;
  return check_http_endpoint(url, &why) ? "" : why;
}

}  // namespace

TEST(events_and_fields) {
  CHECK_EQ(parse("data: a\n\n"), V({"message||a"}));
  CHECK_EQ(parse("event: tick\nid: 7\ndata: {\"a\":\ndata:  1}\n\n"), V({"tick|7|{\"a\":\n 1}"}));
  // id sticks to later events; the type does not.
  CHECK_EQ(parse("id: 1\nevent: x\ndata: a\n\ndata: b\n\n"), V({"x|1|a", "message|1|b"}));
  // Comments, unknown fields and a blank line without data dispatch nothing.
  CHECK_EQ(parse(": hello\nfoo: bar\n\nid: 3\n\ndata: c\n\n"), V({"message|3|c"}));
  // One leading space is removed, not more; a field without ':' has an empty value.
  CHECK_EQ(parse("data:  two\n\ndata\n\ndata:x\n\n"),
           V({"message|| two", "message||", "message||x"}));
  // An id holding NUL is ignored; an empty id resets it.
  static const char with_nul[] = "id: 5\ndata: a\n\nid: b\0c\ndata: b\n\nid\ndata: c\n\n";
  CHECK_EQ(parse(std::string(with_nul, sizeof with_nul - 1)),
           V({"message|5|a", "message|5|b", "message||c"}));
  // An event cut short by the end of the stream is not dispatched.
  CHECK_EQ(parse("data: a\n\ndata: b\n"), V({"message||a"}));
}

TEST(line_ends_and_chunks) {
  std::string s =
      "\xEF\xBB\xBF"
      "id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rid: 3\ndata: c\n\n";
  std::string want = V({"message|1|a", "message|2|b", "message|3|c"});
  CHECK_EQ(parse(s), want);
  // The same events whatever the chunking, CR LF split across chunks included.
  for (size_t chunk = 1; chunk <= 7; chunk++) CHECK_EQ(parse(s, chunk), want);
}

TEST(retry) {
  SseParser p(100);
  std::vector<HttpMessage> out;
  std::string s = "retry: 1500\n\nretry: 2x\n\nretry: 99999999999\n\n";
  p.feed(s.data(), s.size(), out);
  CHECK_EQ(p.retry_ms(), int64_t(1500));
  CHECK(out.empty());
}

TEST(oversized_events) {
  // A data line longer than the limit: the event is reported oversized with its size, once.
  std::string big(5000, 'x');
  CHECK_EQ(parse("data: " + big + "\n\ndata: ok\n\n", 0, 100),
           V({"message||<oversized 5000>", "message||ok"}));
  CHECK_EQ(parse("data: " + big + "\n\ndata: ok\n\n", 3, 100),
           V({"message||<oversized 5000>", "message||ok"}));
  // Many short data lines adding up beyond the limit.
  std::string many;
  for (int i = 0; i < 50; i++) many += "data: 0123456789\n";
  CHECK_EQ(parse(many + "\n", 0, 100), V({"message||<oversized 549>"}));
  // A huge comment or unknown field is skipped; the event around it survives.
  CHECK_EQ(parse("data: a\n:" + big + "\nfoo: " + big + "\n\n", 0, 100), V({"message||a"}));
  // The limit itself is allowed.
  CHECK_EQ(parse("data: " + std::string(100, 'y') + "\n\n", 0, 100),
           V({"message||" + std::string(100, 'y')}));
}

TEST(endless_line_is_bounded) {
  // 64 MiB without a line end, fed in 64 KiB chunks: nothing is dispatched, the parser keeps
  // at most the limit in memory, and it recovers at the next line end.
  SseParser p(1000);
  std::vector<HttpMessage> out;
  std::string chunk(65536, 'z');
  std::string start = "data: ";
  p.feed(start.data(), start.size(), out);
  for (int i = 0; i < 1024; i++) p.feed(chunk.data(), chunk.size(), out);
  CHECK(out.empty());
  std::string end = "\n\ndata: after\n\n";
  p.feed(end.data(), end.size(), out);
  REQUIRE_EQ(out.size(), size_t(2));
  CHECK(out[0].oversized);
  CHECK_EQ(out[0].size, size_t(1024) * 65536);
  CHECK_EQ(out[1].data, std::string("after"));
}

TEST(reset_keeps_the_last_id) {
  SseParser p(100);
  CHECK_EQ(parse("id: 9\ndata: a\n\ndata: part", 0, 100, &p), V({"message|9|a"}));
  p.reset();  // the connection ended mid-event
  CHECK_EQ(p.last_id(), std::string("9"));
  CHECK_EQ(parse("data: b\n\n", 0, 100, &p), V({"message|9|b"}));
}

TEST(headers) {
  std::vector<HttpHeader> h;
  std::string why;
  REQUIRE(parse_http_headers("X-A: 1, X-B:two words ,", &h, &why));
  REQUIRE_EQ(h.size(), size_t(2));
  CHECK_EQ(h[1].name, std::string("X-B"));
  CHECK_EQ(h[1].value, std::string("two words"));
  CHECK_EQ(headers_error("NoColon"),
           std::string("Header \"NoColon\" has no ':' between its name and its value."));
  CHECK_EQ(headers_error("Bad Name: x"), std::string("\"Bad Name\" is not a valid header name."));
  CHECK_EQ(headers_error(""), std::string("Expected 'Name: value' pairs separated by commas."));
  CHECK_EQ(headers_error("A: 1,,B: 2"),
           std::string("Expected 'Name: value' pairs separated by commas."));
  CHECK_EQ(headers_error("A: x\ny"), std::string("The value of header \"A\" holds a line break."));
}

TEST(endpoints) {
  CHECK_EQ(endpoint_error("http://127.0.0.1:8080/sse?x=1"), std::string());
  CHECK_EQ(endpoint_error("https://example.com"), std::string());
  CHECK_EQ(endpoint_error("ftp://example.com/x"),
           std::string("Expected an http:// or https:// URL."));
  CHECK_EQ(endpoint_error("http://exa mple.com/"),
           std::string("The URL holds a space or a control character."));
  CHECK_EQ(endpoint_error("example.com/x"), std::string("Not a valid URL: Bad scheme."));
}
