#include "operators/union_all.hpp"

#include <algorithm>

namespace arroyo {

void UnionAllOperator::watermark(int port, TimestampTz wm) {
  watermarks_[port] = wm;
  emit_min_watermark();
}

void UnionAllOperator::end(int port) {
  ended_[port] = true;
  for (bool e : ended_)
    if (!e) {
      emit_min_watermark();
      return;
    }
  emit_end();
}

void UnionAllOperator::idle(int port) {
  idle_[port] = true;
  emit_min_watermark();
}

// Emits the smallest watermark among inputs that have neither ended nor gone idle, when it
// advanced. When every live input is idle, the largest of their watermarks is used.
void UnionAllOperator::emit_min_watermark() {
  TimestampTz min = DT_NOEND, max_idle = DT_NOBEGIN;
  for (size_t i = 0; i < watermarks_.size(); i++) {
    if (ended_[i]) continue;
    if (idle_[i])
      max_idle = std::max(max_idle, watermarks_[i]);
    else if (watermarks_[i] < min)
      min = watermarks_[i];
  }
  if (min == DT_NOEND) min = max_idle == DT_NOBEGIN ? DT_NOEND : max_idle;
  if (min != DT_NOEND && min > emitted_) {
    emitted_ = min;
    emit_watermark(min);
  }
}

}  // namespace arroyo
