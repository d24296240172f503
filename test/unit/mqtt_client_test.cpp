// The mqtt client's PostgreSQL-free parts (src/connectors/mqtt/mqtt_client.cpp): URL and qos
// parsing, and a client with nobody listening: its status backs off and stop() ends it.
#include "connectors/mqtt/mqtt_client.hpp"

#include "unit.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace arroyo;

namespace {

// Parses `url`; returns the reason for a rejection, or "" with *out filled.
std::string url_error(const std::string& url, MqttEndpoint* out = nullptr) {
  MqttEndpoint e;
  std::string why;
  if (!parse_mqtt_url(url, &e, &why)) return why;
  if (out) *out = e;
  return "";
}

// A loopback port nobody listens on (bound, then released).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

TEST(urls) {
  MqttEndpoint e;
  REQUIRE_EQ(url_error("tcp://broker.example.com", &e), "");
  CHECK(!e.tls);
  CHECK_EQ(e.host, "broker.example.com");
  CHECK_EQ(e.port, 1883);
  REQUIRE_EQ(url_error("MQTTS://10.0.0.1:18883/", &e), "");
  CHECK(e.tls);
  CHECK_EQ(e.host, "10.0.0.1");
  CHECK_EQ(e.port, 18883);
  REQUIRE_EQ(url_error("ssl://[::1]", &e), "");
  CHECK(e.tls);
  CHECK_EQ(e.host, "::1");
  CHECK_EQ(e.port, 8883);
  REQUIRE_EQ(url_error("mqtt://h:1", &e), "");
  CHECK_EQ(e.port, 1);

  CHECK_EQ(url_error("http://h"), "The url must start with tcp://, mqtt://, ssl:// or mqtts://.");
  CHECK_EQ(url_error("h:1883"), "The url must start with tcp://, mqtt://, ssl:// or mqtts://.");
  CHECK_EQ(url_error("tcp://"), "The url has no host.");
  CHECK_EQ(url_error("tcp://:1883"), "The url has no host.");
  CHECK_EQ(url_error("tcp://h/topic"),
           "The url cannot have a path, query or fragment: only host and port.");
  CHECK_EQ(url_error("tcp://h?client_id=x"),
           "The url cannot have a path, query or fragment: only host and port.");
  CHECK_EQ(url_error("tcp://u:p@h"),
           "User information (user@host) is not supported in the url; give username and "
           "password in a user mapping.");
  CHECK_EQ(url_error("tcp://h:0"), "The url's port must be a number from 1 to 65535.");
  CHECK_EQ(url_error("tcp://h:65536"), "The url's port must be a number from 1 to 65535.");
  CHECK_EQ(url_error("tcp://h:"), "The url's port must be a number from 1 to 65535.");
  CHECK_EQ(url_error("tcp://h:-1"), "The url's port must be a number from 1 to 65535.");
  CHECK_EQ(url_error("tcp://[::1"), "The url's IPv6 address lacks its closing \"]\".");
  CHECK_EQ(url_error("tcp://[::1]x"), "Unexpected text after the url's IPv6 address.");
  CHECK_EQ(url_error("tcp://a b"), "The url's host contains characters a host name cannot have.");
}

TEST(qos) {
  CHECK_EQ(parse_mqtt_qos("AtMostOnce"), 0);
  CHECK_EQ(parse_mqtt_qos("0"), 0);
  CHECK_EQ(parse_mqtt_qos("AtLeastOnce"), 1);
  CHECK_EQ(parse_mqtt_qos("1"), 1);
  CHECK_EQ(parse_mqtt_qos("ExactlyOnce"), 2);
  CHECK_EQ(parse_mqtt_qos("2"), 2);
  CHECK_EQ(parse_mqtt_qos("atmostonce"), -1);
  CHECK_EQ(parse_mqtt_qos("3"), -1);
  CHECK_EQ(parse_mqtt_qos(""), -1);
}

// Nobody listening: the first attempt fails, the status says when the next one comes, and
// stop() ends the thread promptly even in the middle of the backoff.
TEST(nobody_listening) {
  MqttClientConfig c;
  REQUIRE_EQ(url_error("tcp://127.0.0.1:" + std::to_string(free_port()), &c.endpoint), "");
  c.client_id = "unit";
  c.subscribe_topic = "t/#";
  c.max_payload_bytes = 1024;
  c.queue_max_messages = 4;
  c.queue_max_bytes = 4096;
  std::atomic<int> wakes{0};
  MqttClient client(c, [&] { wakes++; });
  CHECK_EQ(client.status(), "connecting (attempt 1)");
  client.start();
  std::string status;
  for (int i = 0; i < 200; i++) {
    status = client.status();
    if (status.rfind("reconnecting", 0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_EQ(status, "reconnecting (attempt 2 in 0.5 s): Connection refused");
  CHECK(wakes > 0);
  CHECK(!client.connected());
  std::string why;
  CHECK(!client.failed(&why));
  auto before = std::chrono::steady_clock::now();
  client.stop();
  auto took = std::chrono::steady_clock::now() - before;
  CHECK(took < std::chrono::seconds(2));
  std::vector<MqttMessage> out;
  CHECK_EQ(client.take(out, 10), size_t(0));
  client.stop();  // idempotent
}
