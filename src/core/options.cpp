#include "core/options.hpp"

#include "pg/guard.hpp"

#include <cstdlib>

namespace arroyo {

Options options_from_list(List* deflist) {
  Options out;
  ListCell* lc;
  foreach (lc, deflist) {
    DefElem* def = lfirst_node(DefElem, lc);
    const char* value = pg::call([&] { return defGetString(def); });
    out[def->defname] = value;
  }
  return out;
}

int64 parse_interval_us(const std::string& text) {
  __int128 us = pg::call([&] {
    Datum d = DirectFunctionCall3(interval_in, CStringGetDatum(text.c_str()),
                                  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
    Interval* iv = DatumGetIntervalP(d);
    return __int128(iv->time) + __int128(iv->day) * USECS_PER_DAY +
           __int128(iv->month) * 30 * USECS_PER_DAY;
  });
  // Computed in 128 bits: a huge interval is reported, not wrapped around.
  if (us > kMaxOptionIntervalUs || us < -kMaxOptionIntervalUs)
    pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "interval out of range",
             "Intervals given as options may be at most 10000 years long.");
  return int64(us);
}

TimestampTz parse_timestamptz(const std::string& text) {
  TimestampTz t = pg::call([&] {
    return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text.c_str()),
                                                   ObjectIdGetDatum(InvalidOid),
                                                   Int32GetDatum(-1)));
  });
  if (t < kMinOptionTimestamp || t >= kMaxOptionTimestamp)
    pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "timestamp out of range",
             "Timestamps given as options must be finite, from 0001-01-01 to 9999-12-31 UTC.");
  return t;
}

// Parses a decimal integer, the whole string; false if it is not one.
static bool parse_int64(const std::string& s, int64* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

static std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); i++) {
    if (i) out += ", ";
    out += items[i];
  }
  return out;
}

// Checks one value against its spec; throws an error naming the option when it does not fit.
static void check_value(const OptionSpec& spec, const std::string& value) {
  auto bad = [&](const std::string& why) {
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"" + spec.name + "\": \"" + value + "\"", why);
  };
  int64 n;
  switch (spec.kind) {
    case OptionKind::Text: break;
    case OptionKind::NonNegInt:
      if (!parse_int64(value, &n) || n < 0) bad("Expected a non-negative integer.");
      break;
    case OptionKind::PosInt:
      if (!parse_int64(value, &n) || n <= 0) bad("Expected a positive integer.");
      break;
    case OptionKind::Interval:
    case OptionKind::NonNegInterval: {
      int64 us = 0;
      try {
        us = parse_interval_us(value);
      } catch (const pg::Error& e) {
        bad(e.detail().empty() ? e.message() : e.message() + ". " + e.detail());
      }
      if (spec.kind == OptionKind::Interval && us <= 0) bad("Expected a positive interval.");
      if (us < 0) bad("Expected an interval that is not negative.");
      break;
    }
    case OptionKind::Timestamptz: try { parse_timestamptz(value);
      } catch (const pg::Error& e) {
        bad(e.detail().empty() ? e.message() : e.message() + ". " + e.detail());
      }
      break;
    case OptionKind::Choice: {
      bool found = false;
      for (const auto& c : spec.choices) found = found || c == value;
      if (!found) bad("Expected one of: " + join(spec.choices) + ".");
      break;
    }
  }
}

void validate_options(const Options& opts, const std::vector<OptionSpec>& specs,
                      const std::string& where) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  for (const auto& [name, value] : opts) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == name) spec = &s;
    if (!spec)
      pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME, "unknown option \"" + name + "\" for " + where,
               names.empty() ? "No options are accepted here."
                             : "Valid options are: " + join(names) + ".");
    check_value(*spec, value);
  }
  for (const auto& s : specs)
    if (s.required && !opts.count(s.name))
      pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
               "missing required option \"" + s.name + "\" for " + where);
}

std::optional<std::string> get_option(const Options& opts, const std::string& name) {
  auto it = opts.find(name);
  if (it == opts.end()) return std::nullopt;
  return it->second;
}

int64 option_int(const Options& opts, const std::string& name, int64 fallback) {
  auto v = get_option(opts, name);
  int64 n;
  return v && parse_int64(*v, &n) ? n : fallback;
}

int64 option_interval_us(const Options& opts, const std::string& name, int64 fallback) {
  auto v = get_option(opts, name);
  return v ? parse_interval_us(*v) : fallback;
}

std::optional<TimestampTz> option_timestamptz(const Options& opts, const std::string& name) {
  auto v = get_option(opts, name);
  if (!v) return std::nullopt;
  return parse_timestamptz(*v);
}

}  // namespace arroyo
