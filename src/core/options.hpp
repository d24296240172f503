// Option maps and declarative option specs shared by every connector: one place that turns
// unknown, missing or malformed options into errors naming the option.
#pragma once

#include "pg/postgres.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace arroyo {

using Options = std::map<std::string, std::string>;

// How an option's value is checked.
enum class OptionKind {
  Text,            // any string
  NonNegInt,       // 0, 1, 2, ...
  PosInt,          // 1, 2, ...
  Interval,        // a PostgreSQL interval, > 0
  NonNegInterval,  // a PostgreSQL interval, >= 0
  Timestamptz,     // a PostgreSQL timestamptz
  Choice,          // one of `choices`
};

struct OptionSpec {
  std::string name;
  OptionKind kind = OptionKind::Text;
  bool required = false;
  std::vector<std::string> choices = {};
};

// Converts a PostgreSQL DefElem list (as given to a validator) into an option map.
Options options_from_list(List* deflist);

// Checks `opts` against `specs`: unknown names, missing required ones and bad values are
// ERRORs naming the option. `where` says what carries them ("connector \"impulse\" tables").
void validate_options(const Options& opts, const std::vector<OptionSpec>& specs,
                      const std::string& where);

// Checks that a comma-separated list of column names in option `name` names columns of the
// table (e.g. primary_key 'id, region').
struct TableSpec;
void validate_key_columns(const TableSpec& spec, const std::string& name);

// Value readers; they assume validate_options already accepted the value.
std::optional<std::string> get_option(const Options& opts, const std::string& name);
int64 option_int(const Options& opts, const std::string& name, int64 fallback);
// Interval options are returned in microseconds.
int64 option_interval_us(const Options& opts, const std::string& name, int64 fallback);
std::optional<TimestampTz> option_timestamptz(const Options& opts, const std::string& name);

// Parses a PostgreSQL interval literal into microseconds (months count as 30 days); throws
// for one longer than kMaxOptionIntervalUs either way.
int64 parse_interval_us(const std::string& text);
// Parses a timestamptz; throws for one outside [kMinOptionTimestamp, kMaxOptionTimestamp)
// (infinity included), so a source can add intervals and counts to it without overflowing.
TimestampTz parse_timestamptz(const std::string& text);

// Limits of interval and timestamp options: 10000 years (of 365.25 days), and the years 1 to
// 9999 (PostgreSQL epoch microseconds of 0001-01-01 and 10000-01-01 UTC).
constexpr int64 kMaxOptionIntervalUs = int64(10000) * 36525 / 100 * USECS_PER_DAY;
constexpr TimestampTz kMinOptionTimestamp = -INT64CONST(63082281600) * USECS_PER_SEC;
constexpr TimestampTz kMaxOptionTimestamp = INT64CONST(252455616000) * USECS_PER_SEC;

}  // namespace arroyo
