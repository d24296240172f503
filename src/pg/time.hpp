// PostgreSQL's timestamps count from 2000-01-01 00:00 UTC, Unix time from 1970-01-01: the one
// definition of the distance between the two epochs (946684800 seconds, 10957 days).
#pragma once

#include "pg/postgres.hpp"

namespace pg {

constexpr int32 kUnixToPostgresDays = POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE;
constexpr int64 kUnixToPostgresUs = int64(kUnixToPostgresDays) * USECS_PER_DAY;
constexpr int64 kUnixToPostgresMs = kUnixToPostgresUs / 1000;

static_assert(kUnixToPostgresUs == INT64CONST(946684800) * USECS_PER_SEC);

}  // namespace pg
