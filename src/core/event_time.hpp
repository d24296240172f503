// Event time options shared by every source: event_time_field, watermark_delay, idle_timeout.
#pragma once

#include "core/connector.hpp"

namespace arroyo {

constexpr int64 kDefaultWatermarkDelayUs = 1 * USECS_PER_SEC;
constexpr int64 kDefaultIdleTimeoutUs = 30 * USECS_PER_SEC;

struct EventTimeOptions {
  int column = -1;  // 0-based row position of event_time_field, or -1: the connector's time
  int64 watermark_delay_us = kDefaultWatermarkDelayUs;
  int64 idle_timeout_us = kDefaultIdleTimeoutUs;
};

// The option specs a source connector includes in its table options.
std::vector<OptionSpec> event_time_option_specs();
// Checks that event_time_field names a timestamptz or timestamp column of the table.
void validate_event_time(const TableSpec& spec);
EventTimeOptions event_time_options(const TableSpec& spec);

}  // namespace arroyo
