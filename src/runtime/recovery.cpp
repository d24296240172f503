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

// A fingerprint without the names of sources and targets ("source impulse public.t (…)" ->
// "source impulse (…)"): a pipeline's view makes PostgreSQL refuse to drop or replace them
// while it exists, so a name that changed is a rename, which the pipeline follows.
std::string without_relation_names(const std::string& fingerprint) {
  std::string out;
  size_t i = 0;
  while (i < fingerprint.size()) {
    size_t e = fingerprint.find('\n', i);
    std::string line = fingerprint.substr(i, e == std::string::npos ? std::string::npos : e - i);
    i = e == std::string::npos ? fingerprint.size() : e + 1;
    bool named = line.rfind("source ", 0) == 0 || line.rfind("sink ", 0) == 0;
    size_t types = line.rfind(" (");
    if (named && types != std::string::npos) {
      size_t kind_end = line.find(' ', line.find(' ') + 1);  // after "sink table", "source kafka"
      if (kind_end != std::string::npos && kind_end < types)
        line = line.substr(0, kind_end) + line.substr(types);
    }
    out += line + "\n";
  }
  return out;
}

// The "parallelism N" line of a fingerprint (1 when it has none), and the rest without it.
std::pair<int, std::string> split_parallelism(const std::string& fingerprint) {
  std::string rest;
  int n = 1;
  size_t i = 0;
  while (i < fingerprint.size()) {
    size_t e = fingerprint.find('\n', i);
    std::string line = fingerprint.substr(i, e == std::string::npos ? std::string::npos : e - i);
    i = e == std::string::npos ? fingerprint.size() : e + 1;
    if (line.rfind("parallelism ", 0) == 0)
      n = atoi(line.c_str() + strlen("parallelism "));
    else
      rest += line + "\n";
  }
  return {n, rest};
}

}  // namespace

void resume(Dataflow& flow, CheckpointStore& store) {
  CheckpointStore::Last last = store.last();
  if (last.epoch == 0) return;
  // Another parallelism than the checkpoint's rescales: the rest must match.
  auto [was_n, was_rest] = split_parallelism(last.fingerprint);
  auto [now_n, now_rest] = split_parallelism(flow.fingerprint());
  if (was_rest != now_rest &&
      without_relation_names(was_rest) != without_relation_names(now_rest)) {
    auto [was, now] = first_difference(was_rest, now_rest);
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
             "pipeline no longer matches its checkpoint " + std::to_string(last.epoch),
             "Its query now plans to a different dataflow (a source or the target was altered, "
             "dropped or replaced). At the checkpoint: " +
                 was + "; now: " + now + ".",
             "Undo the change to resume where the pipeline stopped, or drop the pipeline "
             "(stream_drop) and create it again to start from scratch.");
  }
  flow.restore(store, was_n);
}

void checkpoint(Dataflow& flow, CheckpointStore& store) {
  if (!flow.changed()) return;
  TimestampTz started = GetCurrentTimestamp();
  store.begin();
  flow.checkpoint(store);
  store.finish(flow.fingerprint(), started);
  flow.checkpoint_took(GetCurrentTimestamp() - started);
}

}  // namespace arroyo
