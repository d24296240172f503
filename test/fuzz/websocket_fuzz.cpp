// libFuzzer target: the websocket client's own parsing (src/connectors/websocket/ws_client.cpp)
// — endpoint URLs, the headers option, close frames, and the assembly of messages from
// fragments under max_message_bytes. (The frames themselves are parsed by libwebsockets.)
#include "connectors/websocket/ws_client.hpp"

#include <string>

using namespace arroyo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string why;
  switch (data[0] % 4) {
    case 0: {
      WsEndpoint e;
      if (parse_ws_endpoint(text, &e, &why) && (e.port <= 0 || e.port > 65535 || e.path.empty()))
        __builtin_trap();
      break;
    }
    case 1: {
      std::vector<WsHeader> headers;
      parse_ws_headers(text, &headers, &why);
      break;
    }
    case 2: ws_close_reason(data + 1, size - 1); break;
    case 3: {
      // Fragments: each byte b of the input says "a fragment of b % 64 bytes, final if b >= 128"
      // (taken from the input itself); messages must add up.
      WsAssembler assembler(size % 97);
      size_t pos = 1, total = 0;
      WsMessage m;
      while (pos < size) {
        uint8_t b = data[pos++];
        size_t n = std::min<size_t>(b % 64, size - pos);
        total += n;
        if (assembler.add(reinterpret_cast<const char*>(data + pos), n, b & 64, b >= 128, &m)) {
          if (m.size != total || (!m.oversized && m.payload.size() != total) ||
              (m.oversized && (!m.payload.empty() || total <= size % 97)))
            __builtin_trap();
          total = 0;
        }
        pos += n;
      }
      break;
    }
  }
  return 0;
}
