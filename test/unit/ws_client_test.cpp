// The websocket client's PostgreSQL-free parts (src/connectors/websocket/ws_client.cpp): URL and
// header parsing, message assembly from fragments (with the size cap), close-frame reasons.
#include "connectors/websocket/ws_client.hpp"

#include "unit.hpp"

using namespace arroyo;

namespace {

// Parses `url`; returns the reason for a rejection, or "" with *out filled.
std::string endpoint(const std::string& url, WsEndpoint* out = nullptr) {
  WsEndpoint e;
  std::string why;
  if (!parse_ws_endpoint(url, &e, &why)) return why;
  if (out) *out = e;
  return "";
}

std::string headers_error(const std::string& text) {
  std::vector<WsHeader> out;
  std::string why;
  if (parse_ws_headers(text, &out, &why)) return "";
  return why;
}

}  // namespace

TEST(endpoints) {
  WsEndpoint e;
  REQUIRE_EQ(endpoint("ws://example.com", &e), "");
  CHECK_EQ(e.url, "ws://example.com");
  CHECK(!e.tls);
  CHECK_EQ(e.host, "example.com");
  CHECK_EQ(e.port, 80);
  CHECK_EQ(e.path, "/");

  REQUIRE_EQ(endpoint("WSS://Feed.Example.com:8443/v1/stream?x=1&y=%20", &e), "");
  CHECK(e.tls);
  CHECK_EQ(e.host, "Feed.Example.com");
  CHECK_EQ(e.port, 8443);
  CHECK_EQ(e.path, "/v1/stream?x=1&y=%20");

  REQUIRE_EQ(endpoint("wss://h?q", &e), "");
  CHECK_EQ(e.port, 443);
  CHECK_EQ(e.path, "/?q");

  REQUIRE_EQ(endpoint("ws://[::1]:9000/p", &e), "");
  CHECK_EQ(e.host, "::1");
  CHECK_EQ(e.port, 9000);
  CHECK_EQ(e.path, "/p");
  REQUIRE_EQ(endpoint("ws://[fe80::1]", &e), "");
  CHECK_EQ(e.port, 80);
}

TEST(endpoint_errors) {
  CHECK_EQ(endpoint("http://example.com"), "The endpoint must start with ws:// or wss://.");
  CHECK_EQ(endpoint("example.com"), "The endpoint must start with ws:// or wss://.");
  CHECK_EQ(endpoint("ws://h/a#b"), "The endpoint cannot have a fragment (#...).");
  CHECK_EQ(endpoint("ws://h/a b"),
           "The endpoint's path contains a space or another character that must be %-encoded.");
  CHECK_EQ(endpoint("ws://user:pw@h/"),
           "User information (user@host) is not supported in the endpoint; send credentials "
           "with the headers option.");
  CHECK_EQ(endpoint("ws://[::1/"), "The endpoint's IPv6 address lacks its closing \"]\".");
  CHECK_EQ(endpoint("ws://[::1]x/"), "Unexpected text after the endpoint's IPv6 address.");
  CHECK_EQ(endpoint("ws:///path"), "The endpoint has no host.");
  CHECK_EQ(endpoint("ws://:80/"), "The endpoint has no host.");
  CHECK_EQ(endpoint("ws://h\x01st/"),
           "The endpoint's host contains characters a host name cannot have.");
  for (const char* bad :
       {"ws://h:0/", "ws://h:65536/", "ws://h:/", "ws://h:80a/", "ws://h:-1/", "ws://h:000080/"})
    CHECK_EQ(endpoint(bad), "The endpoint's port must be a number from 1 to 65535.");
  WsEndpoint e;
  REQUIRE_EQ(endpoint("ws://h:65535", &e), "");
  CHECK_EQ(e.port, 65535);
}

TEST(headers) {
  std::vector<WsHeader> out;
  std::string why;
  REQUIRE(parse_ws_headers(" Authorization :  Bearer abc , X-Id:7", &out, &why));
  REQUIRE_EQ(out.size(), size_t(2));
  CHECK_EQ(out[0].name, "Authorization");
  CHECK_EQ(out[0].value, "Bearer abc");
  CHECK_EQ(out[1].name, "X-Id");
  CHECK_EQ(out[1].value, "7");
  REQUIRE(parse_ws_headers("X-Time: 12:30:00", &out, &why));
  REQUIRE_EQ(out.size(), size_t(1));
  CHECK_EQ(out[0].value, "12:30:00");  // only the first ':' separates
}

TEST(header_errors) {
  CHECK_EQ(headers_error(""),
           "Expected 'Name: value' pairs separated by commas; found an empty one.");
  CHECK_EQ(headers_error("A: 1,,B: 2"),
           "Expected 'Name: value' pairs separated by commas; found an empty one.");
  CHECK_EQ(headers_error("A: 1,"),
           "Expected 'Name: value' pairs separated by commas; found an empty one.");
  CHECK_EQ(headers_error("Bearer abc"),
           "Header \"Bearer abc\" has no ':'; expected 'Name: value'.");
  // A comma always separates headers: no value can hold one.
  CHECK_EQ(headers_error("Authorization: Bearer a,b=c"),
           "Header \"b=c\" has no ':'; expected 'Name: value'.");
  CHECK_EQ(headers_error("Bad Name: x"), "\"Bad Name\" is not a valid header name.");
  CHECK_EQ(headers_error(": x"), "\"\" is not a valid header name.");
  CHECK_EQ(headers_error("A:"), "Header \"A\" has an empty value.");
  CHECK_EQ(headers_error("A: x\x01y"), "Header \"A\" contains a control character.");
  CHECK_EQ(headers_error("A: x\x7fy"), "Header \"A\" contains a control character.");
  CHECK_EQ(headers_error("A: x\ty"), "");  // a tab inside a value is allowed
  for (const char* reserved : {"Host", "upgrade", "CONNECTION", "Sec-WebSocket-Key",
                               "sec-websocket-version", "Sec-WebSocket-Extensions"})
    CHECK_EQ(headers_error(std::string(reserved) + ": x"),
             "Header \"" + std::string(reserved) + "\" is set by the websocket handshake itself.");
}

TEST(assembles_fragments) {
  WsAssembler a(10);
  WsMessage m;
  CHECK(a.add("{\"a\"", 4, false, true, &m));  // a single-frame message
  CHECK_EQ(m.payload, "{\"a\"");
  CHECK_EQ(m.size, size_t(4));
  CHECK(!m.binary);
  CHECK(!m.oversized);

  CHECK(!a.add("abc", 3, true, false, &m));
  CHECK(!a.add("", 0, false, false, &m));  // an empty continuation
  CHECK(a.add("defg", 4, false, true, &m));
  CHECK_EQ(m.payload, "abcdefg");
  CHECK_EQ(m.size, size_t(7));
  CHECK(m.binary);  // the first fragment says what the message is

  CHECK(a.add("", 0, false, true, &m));  // an empty message
  CHECK_EQ(m.payload, "");
  CHECK_EQ(m.size, size_t(0));
  CHECK(!m.binary);
}

TEST(caps_message_size) {
  WsAssembler a(10);
  WsMessage m;
  CHECK(a.add("0123456789", 10, false, true, &m));  // exactly the cap
  CHECK(!m.oversized);
  CHECK_EQ(m.payload, "0123456789");

  CHECK(!a.add("012345", 6, false, false, &m));
  CHECK(!a.add("6789X", 5, false, false, &m));  // 11 bytes: over, dropped at once
  CHECK(a.add("more", 4, false, true, &m));
  CHECK(m.oversized);
  CHECK_EQ(m.payload, "");
  CHECK_EQ(m.size, size_t(15));  // the whole message's length is still counted

  CHECK(a.add("ok", 2, false, true, &m));  // the next message starts afresh
  CHECK(!m.oversized);
  CHECK_EQ(m.payload, "ok");
}

TEST(reset_forgets_a_partial_message) {
  WsAssembler a(100);
  WsMessage m;
  CHECK(!a.add("half", 4, true, false, &m));
  a.reset();  // the connection ended mid-message
  CHECK(a.add("new", 3, false, true, &m));
  CHECK_EQ(m.payload, "new");
  CHECK(!m.binary);
  CHECK_EQ(m.size, size_t(3));
}

TEST(close_reasons) {
  CHECK_EQ(ws_close_reason(nullptr, 0), "the server closed the connection");
  const unsigned char one[] = {0x03};
  CHECK_EQ(ws_close_reason(one, 1), "the server closed the connection");
  const unsigned char code[] = {0x03, 0xe8};
  CHECK_EQ(ws_close_reason(code, 2), "the server closed the connection (code 1000)");
  const unsigned char reason[] = {0x0f, 0xa0, 'g', 'o', 'i', 'n', 'g', ' ', 'a', 'w', 'a', 'y'};
  CHECK_EQ(ws_close_reason(reason, sizeof reason),
           "the server closed the connection (code 4000: going away)");
}
