#include "core/event_time.hpp"

#include "pg/guard.hpp"

namespace arroyo {

std::vector<OptionSpec> event_time_option_specs() {
  return {{"event_time_field", OptionKind::Text},
          {"watermark_delay", OptionKind::NonNegInterval},
          {"idle_timeout", OptionKind::Interval}};
}

void validate_event_time(const TableSpec& spec) {
  auto field = get_option(spec.table_options, "event_time_field");
  if (!field) return;
  const ColumnInfo* col = spec.column(*field);
  if (!col)
    pg::fail(ERRCODE_UNDEFINED_COLUMN,
             "option \"event_time_field\" names column \"" + *field + "\", which does not exist");
  if (col->type != TIMESTAMPTZOID && col->type != TIMESTAMPOID)
    pg::fail(ERRCODE_DATATYPE_MISMATCH,
             "option \"event_time_field\" must name a timestamptz or timestamp column",
             "Column \"" + *field + "\" has another type.");
}

EventTimeOptions event_time_options(const TableSpec& spec) {
  EventTimeOptions out;
  if (auto field = get_option(spec.table_options, "event_time_field"))
    if (const ColumnInfo* col = spec.column(*field)) out.column = col->attnum - 1;
  out.watermark_delay_us =
      option_interval_us(spec.table_options, "watermark_delay", kDefaultWatermarkDelayUs);
  out.idle_timeout_us =
      option_interval_us(spec.table_options, "idle_timeout", kDefaultIdleTimeoutUs);
  return out;
}

}  // namespace arroyo
