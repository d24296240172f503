#include "connectors/nats/nats_options.hpp"

#include "core/event_time.hpp"
#include "formats/format.hpp"
#include "pg/guard.hpp"

#include <algorithm>
#include <cctype>

namespace arroyo {

namespace {

constexpr const char* kServerWhere = "connector \"nats\" servers";
constexpr const char* kTableWhere = "connector \"nats\" tables";
constexpr size_t kMaxSubjectLength = 1024;
constexpr size_t kMaxStreamNameLength = 255;
constexpr size_t kMaxServers = 64;

const char* const kCredentialOptions[] = {"auth.username", "auth.password", "auth.token"};

std::vector<OptionSpec> table_option_specs() {
  std::vector<OptionSpec> specs = {
      {"type", OptionKind::Choice, true, {"source", "sink"}},
      {"subject", OptionKind::Text},
      {"stream", OptionKind::Text},
      {"consumer.filter_subjects", OptionKind::Text},
      {"consumer.description", OptionKind::Text},
      {"source.offset", OptionKind::Choice, false, {"earliest", "latest"}},
      {"source.stop_at", OptionKind::Choice, false, {"never", "latest"}},
  };
  for (OptionSpec& s : format_option_specs(message_format_names())) specs.push_back(s);
  for (OptionSpec& s : event_time_option_specs()) specs.push_back(s);
  return specs;
}

[[noreturn]] void bad_value(const std::string& option, const std::string& value,
                            const std::string& why) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"" + option + "\": \"" + value + "\"", why);
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Splits a comma-separated list, trimming each item.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    out.push_back(trim(text.substr(start, comma == std::string::npos ? comma : comma - start)));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// Why `url` is not a server address the connector accepts ("" when it is): nats://host[:port]
// or host[:port], with no credentials in it.
std::string server_url_problem(const std::string& url) {
  std::string rest = url;
  size_t scheme = rest.find("://");
  if (scheme != std::string::npos) {
    if (rest.compare(0, scheme, "nats") != 0)
      return "Server \"" + url + "\" has scheme \"" + rest.substr(0, scheme) +
             "\"; expected nats://host:port.";
    rest = rest.substr(scheme + 3);
  }
  if (rest.find('@') != std::string::npos)
    return "Server \"" + url +
           "\" has credentials in it; they belong in a user mapping "
           "(auth.username, auth.password or auth.token).";
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string host = rest, port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return "Server \"" + url + "\" has an unclosed '['.";
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return "Server \"" + url + "\" is not host:port.";
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return "Server \"" + url + "\" has no host.";
  for (char c : host)
    if (!(isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' || c == ':'))
      return "Server \"" + url + "\" has an invalid host name.";
  if (rest.find(':') != std::string::npos && port.empty() && rest[0] != '[')
    return "Server \"" + url + "\" has an empty port.";
  if (!port.empty()) {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), ::isdigit);
    if (!digits || atoi(port.c_str()) < 1 || atoi(port.c_str()) > 65535)
      return "Server \"" + url + "\" has an invalid port; expected 1 to 65535.";
  }
  return {};
}

// Checks a NATS subject: dot-separated non-empty tokens without whitespace; with `wildcards`,
// '*' and a last '>' may stand as whole tokens.
void check_subject(const std::string& option, const std::string& subject, bool wildcards) {
  if (subject.empty()) bad_value(option, subject, "Expected a NATS subject.");
  if (subject.size() > kMaxSubjectLength)
    bad_value(option, subject.substr(0, 40) + "...",
              "A subject has at most " + std::to_string(kMaxSubjectLength) + " bytes.");
  size_t start = 0;
  for (;;) {
    size_t dot = subject.find('.', start);
    std::string token = subject.substr(start, dot == std::string::npos ? dot : dot - start);
    bool last = dot == std::string::npos;
    if (token.empty()) bad_value(option, subject, "A subject's tokens cannot be empty.");
    for (unsigned char c : token)
      if (isspace(c) || c < 0x20 || c == 0x7f)
        bad_value(option, subject, "A subject cannot contain whitespace or control characters.");
    bool wild = token.find('*') != std::string::npos || token.find('>') != std::string::npos;
    if (wild) {
      if (!wildcards)
        bad_value(option, subject, "A subject to publish to cannot contain wildcards.");
      if (!(token == "*" || (token == ">" && last)))
        bad_value(option, subject,
                  "Wildcards are whole tokens: '*' anywhere, '>' only as the last token.");
    }
    if (last) return;
    start = dot + 1;
  }
}

// JetStream's rule for stream names: printable, no whitespace, '.', '*', '>', '/' or '\'.
void check_stream_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxStreamNameLength)
    bad_value("stream", name, "Expected a JetStream stream name of 1 to 255 characters.");
  for (unsigned char c : name)
    if (c <= 0x20 || c == 0x7f || strchr(".*>/\\", c))
      bad_value("stream", name,
                "Stream names cannot contain whitespace, '.', '*', '>', '/' or '\\'.");
}

bool is_credential(const std::string& name) {
  for (const char* n : kCredentialOptions)
    if (name == n) return true;
  return false;
}

}  // namespace

void nats_validate_server_options(const Options& options) {
  for (const auto& [name, value] : options) {
    if (is_credential(name) || name == "auth.type")
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME, "option \"" + name + "\" belongs in a user mapping",
               "Servers and tables are visible to every user; user mappings are not.",
               "Use CREATE USER MAPPING FOR … SERVER … OPTIONS (\"auth.username\" '…', "
               "\"auth.password\" '…') or (\"auth.token\" '…').");
  }
  validate_options(options, {{"servers", OptionKind::Text, true}}, kServerWhere);
  std::string servers = *get_option(options, "servers");
  std::vector<std::string> list = split_list(servers);
  if (list.size() > kMaxServers)
    bad_value("servers", servers.substr(0, 40) + "...",
              "At most " + std::to_string(kMaxServers) + " servers.");
  for (const std::string& url : list) {
    if (url.empty())
      bad_value("servers", servers, "Expected a comma-separated list of nats://host:port.");
    std::string why = server_url_problem(url);
    if (!why.empty()) bad_value("servers", servers, why);
  }
}

std::vector<OptionSpec> nats_user_mapping_specs() {
  std::vector<OptionSpec> specs;
  for (const char* n : kCredentialOptions) specs.push_back({n, OptionKind::Text});
  return specs;
}

bool nats_is_sink(const TableSpec& spec) {
  return get_option(spec.table_options, "type") == "sink";
}

void nats_validate_table(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  for (const auto& [name, value] : opts)
    if (is_credential(name))
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME, "option \"" + name + "\" belongs in a user mapping",
               "Tables are visible to every user; user mappings are not.");
  validate_options(opts, table_option_specs(), kTableWhere);
  bool sink = nats_is_sink(spec);
  auto subject = get_option(opts, "subject");
  auto stream = get_option(opts, "stream");
  if (sink) {
    if (!subject)
      pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND, "nats sink tables need option \"subject\"",
               "A sink publishes every row to that subject; with \"stream\" as well, through "
               "JetStream into that stream.");
  } else if (subject && stream) {
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "options \"subject\" and \"stream\" cannot be combined on a source",
             "Read a core NATS subject with \"subject\", or a JetStream stream with \"stream\" "
             "(and \"consumer.filter_subjects\" to read some of its subjects).");
  } else if (!subject && !stream) {
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             "nats source tables need option \"subject\" or \"stream\"",
             "\"subject\" reads a core NATS subject, \"stream\" a JetStream stream.");
  }
  if (subject) check_subject("subject", *subject, !sink);
  if (stream) check_stream_name(*stream);
  for (const auto& [name, value] : opts) {
    bool jetstream_source_only = name.rfind("consumer.", 0) == 0 || name.rfind("source.", 0) == 0;
    if (sink && (jetstream_source_only || name == "event_time_field" || name == "watermark_delay" ||
                 name == "idle_timeout"))
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to source tables");
    if (!sink && !stream && jetstream_source_only)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"" + name + "\" applies only to JetStream sources (option \"stream\")",
               "A core NATS subject has no history: a source reads what is published while it "
               "runs.");
  }
  if (auto filter = get_option(opts, "consumer.filter_subjects")) {
    std::vector<std::string> list = split_list(*filter);
    if (list.size() > 1)
      bad_value("consumer.filter_subjects", *filter,
                "Only one filter subject is supported (NATS servers before 2.10 take one).");
    check_subject("consumer.filter_subjects", list[0], true);
  }
  if (auto d = get_option(opts, "consumer.description"); d && d->size() > 1024)
    bad_value("consumer.description", d->substr(0, 40) + "...", "At most 1024 bytes.");
  for (const ColumnInfo& col : spec.columns)
    validate_options(col.options, {}, "columns of " + std::string(kTableWhere));
  validate_table_format(spec, sink ? TableRole::Sink : TableRole::Source);
}

NatsConnectionConfig nats_connection_config(const TableSpec& spec, const std::string& label) {
  NatsConnectionConfig c;
  c.label = label;
  for (const std::string& url : split_list(get_option(spec.server_options, "servers").value_or("")))
    c.servers.push_back(url.find("://") == std::string::npos ? "nats://" + url : url);
  c.username = get_option(spec.user_options, "auth.username").value_or("");
  c.password = get_option(spec.user_options, "auth.password").value_or("");
  c.token = get_option(spec.user_options, "auth.token").value_or("");
  if (c.username.empty() != c.password.empty())
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "the user mapping for the nats server gives \"" +
                 std::string(c.username.empty() ? "auth.password" : "auth.username") +
                 "\" without \"" + (c.username.empty() ? "auth.username" : "auth.password") + "\"");
  if (!c.username.empty() && !c.token.empty())
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "the user mapping for the nats server gives both \"auth.username\" and "
             "\"auth.token\"",
             {}, "Authenticate with a user name and password, or with a token.");
  return c;
}

NatsSourceConfig nats_source_config(const TableSpec& spec) {
  const Options& opts = spec.table_options;
  NatsSourceConfig c;
  c.subject = get_option(opts, "subject").value_or("");
  c.stream = get_option(opts, "stream").value_or("");
  c.jetstream = !c.stream.empty();
  if (auto filter = get_option(opts, "consumer.filter_subjects")) c.filter_subject = trim(*filter);
  c.description = get_option(opts, "consumer.description").value_or("");
  c.start_latest = get_option(opts, "source.offset") == "latest";
  c.stop_at_latest = get_option(opts, "source.stop_at") == "latest";
  return c;
}

NatsSinkConfig nats_sink_config(const TableSpec& spec) {
  NatsSinkConfig c;
  c.subject = get_option(spec.table_options, "subject").value_or("");
  c.stream = get_option(spec.table_options, "stream").value_or("");
  return c;
}

}  // namespace arroyo
