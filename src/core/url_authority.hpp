// The authority part of a URL (host and optional port), split the same way for every connector
// that takes a URL (websocket endpoints, MQTT urls). PostgreSQL-free.
#pragma once

#include <string>

namespace arroyo {

// Splits `authority` ("host", "host:port", "[v6]" or "[v6]:port") into *host and, after a colon,
// *port_text (*has_port says whether there was one). `what` names the URL in messages ("url",
// "endpoint"). False, with *why set, when it is malformed or has no host.
bool split_url_authority(const std::string& authority, const std::string& what, std::string* host,
                         std::string* port_text, bool* has_port, std::string* why);
// Reads a URL's port (1 to 65535) from its text; false, with *why set, for anything else.
bool parse_url_port(const std::string& text, const std::string& what, int* port, std::string* why);

}  // namespace arroyo
