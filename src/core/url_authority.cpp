#include "core/url_authority.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace arroyo {

bool split_url_authority(const std::string& authority, const std::string& what, std::string* host,
                         std::string* port_text, bool* has_port, std::string* why) {
  port_text->clear();
  *has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      *why = "The " + what + "'s IPv6 address lacks its closing \"]\".";
      return false;
    }
    *host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') {
      *why = "Unexpected text after the " + what + "'s IPv6 address.";
      return false;
    }
    *has_port = !after.empty();
    if (*has_port) *port_text = after.substr(1);
  } else {
    size_t colon = authority.find(':');
    *host = authority.substr(0, colon);
    *has_port = colon != std::string::npos;
    if (*has_port) *port_text = authority.substr(colon + 1);
  }
  if (host->empty()) {
    *why = "The " + what + " has no host.";
    return false;
  }
  return true;
}

bool parse_url_port(const std::string& text, const std::string& what, int* port, std::string* why) {
  bool digits =
      !text.empty() && text.size() <= 5 && std::all_of(text.begin(), text.end(), ::isdigit);
  int n = digits ? atoi(text.c_str()) : 0;
  if (n < 1 || n > 65535) {
    *why = "The " + what + "'s port must be a number from 1 to 65535.";
    return false;
  }
  *port = n;
  return true;
}

}  // namespace arroyo
