#include "operators/union_all.hpp"

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

// Emits the smallest watermark among inputs that have not ended, when it advanced.
void UnionAllOperator::emit_min_watermark() {
  TimestampTz min = DT_NOEND;
  for (size_t i = 0; i < watermarks_.size(); i++)
    if (!ended_[i] && watermarks_[i] < min) min = watermarks_[i];
  if (min != DT_NOEND && min > emitted_) {
    emitted_ = min;
    emit_watermark(min);
  }
}

}  // namespace arroyo
