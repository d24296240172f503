#include "runtime/recovery.hpp"

#include "pg/guard.hpp"

namespace arroyo {

namespace {

// The first line where two fingerprints differ, for the error that names what changed.
std::pair<std::string, std::string> first_difference(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    size_t ei = a.find('\n', i), ej = b.find('\n', j);
    std::string la = a.substr(i, ei == std::string::npos ? std::string::npos : ei - i);
    std::string lb = b.substr(j, ej == std::string::npos ? std::string::npos : ej - j);
    if (la != lb) return {la.empty() ? "(nothing)" : la, lb.empty() ? "(nothing)" : lb};
    i = ei == std::string::npos ? a.size() : ei + 1;
    j = ej == std::string::npos ? b.size() : ej + 1;
  }
  return {};
}

}  // namespace

void resume(Dataflow& flow, CheckpointStore& store) {
  CheckpointStore::Last last = store.last();
  if (last.epoch == 0) return;
  if (last.fingerprint != flow.fingerprint()) {
    auto [was, now] = first_difference(last.fingerprint, flow.fingerprint());
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
             "pipeline no longer matches its checkpoint " + std::to_string(last.epoch),
             "Its query now plans to a different dataflow (a source or the target was altered, "
             "dropped or replaced). At the checkpoint: " + was + "; now: " + now + ".",
             "Undo the change to resume where the pipeline stopped, or drop the pipeline "
             "(stream_drop) and create it again to start from scratch.");
  }
  flow.restore(store);
}

void checkpoint(Dataflow& flow, CheckpointStore& store) {
  if (!flow.changed()) return;
  TimestampTz started = GetCurrentTimestamp();
  store.begin();
  flow.checkpoint(store);
  store.finish(flow.fingerprint(), started);
}

}  // namespace arroyo
