// The nats connector's parts as the connector (nats.cpp) assembles them: the source
// (nats_source.cpp), the sink (nats_sink.cpp), and the list of live clients stopped when a
// worker exits.
#pragma once

#include "core/connector.hpp"

#include <functional>
#include <memory>

namespace arroyo {

std::unique_ptr<Source> make_nats_source(const TableSpec& spec);
std::unique_ptr<Sink> make_nats_sink(const TableSpec& spec);

// Registers `stop` (PostgreSQL-free) to run when the worker exits without closing the source
// or sink `owner` (FATAL, SIGTERM): it stops the threads libnats and the reader run.
void nats_track(const void* owner, std::function<void()> stop);
void nats_untrack(const void* owner);

}  // namespace arroyo
