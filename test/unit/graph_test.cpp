// Unit checks of the dataflow graph (src/runtime/graph.cpp), which is PostgreSQL-free code
// compiled against PostgreSQL's headers only: fan-out and copies, a diamond, the watermark as
// the minimum over a node's inputs, idle inputs, the end, and flushes once per node upstream
// first; the per-node meters. A program of the unit tests (test/unit/unit.hpp; make unit,
// test/run.sh unit).
#include "runtime/graph.hpp"
#include "unit.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

using namespace arroyo;

namespace {

std::vector<std::string> events;  // what every operator saw, in order

void check(bool ok, const std::string& what) {
  if (!ok) ::unit::fail(__FILE__, __LINE__, what);
}

std::string joined() {
  std::string out;
  for (const std::string& e : events) out += (out.empty() ? "" : " ") + e;
  return out;
}

void check_events(const std::string& expected, const std::string& what) {
  std::string got = joined();
  check(got == expected, what + "\n  expected: " + expected + "\n  got:      " + got);
  events.clear();
}

// Records what it receives and passes everything on.
class Recorder : public Operator {
 public:
  explicit Recorder(std::string name, bool modifies = false)
      : name_(std::move(name)), modifies_(modifies) {}
  void push(int port, Batch& rows) override {
    events.push_back(name_ + ".push(" + std::to_string(port) + "," + std::to_string(rows.size()) +
                     ")");
    seen.push_back(&rows);
    first_values.push_back(int64(rows.values(0)[0]));
    if (modifies_) rows.values(0)[0] = Datum(-1);
    emit(rows);
  }
  bool modifies_input() const override { return modifies_; }
  void watermark(TimestampTz wm) override {
    events.push_back(name_ + ".wm(" + std::to_string(wm) + ")");
    emit_watermark(wm);
  }
  void idle() override {
    events.push_back(name_ + ".idle");
    emit_idle();
  }
  void end() override {
    events.push_back(name_ + ".end");
    emit_end();
  }
  void flush() override { events.push_back(name_ + ".flush"); }
  void begin_transaction() override { events.push_back(name_ + ".begin"); }
  void end_transaction() override { events.push_back(name_ + ".commit"); }
  std::vector<Batch*> seen;
  std::vector<int64> first_values;

 private:
  std::string name_;
  bool modifies_;
};

Recorder* add(Graph& g, int& index, const std::string& name, bool modifies = false) {
  auto op = std::make_unique<Recorder>(name, modifies);
  Recorder* r = op.get();
  index = g.add(std::move(op));
  return r;
}

Batch rows(int n, int64 first) {
  Batch b(1, 8);
  for (int i = 0; i < n; i++) b.values(b.append(0))[0] = Datum(first + i);
  for (int i = 0; i < n; i++) b.nulls(i)[0] = false;
  return b;
}

// A source feeding two branches that meet again in a union: rows and watermarks reach both
// branches; the union's watermark waits for both; flush and end reach each node once.
void diamond() {
  Graph g;
  int s = g.add(nullptr), a, b, u, k;
  Recorder* ra = add(g, a, "a");
  Recorder* rb = add(g, b, "b");
  add(g, u, "u");
  add(g, k, "k");
  g.connect(s, a, 0);
  g.connect(s, b, 0);
  g.connect(a, u, 0);
  g.connect(b, u, 1);
  g.connect(u, k, 0);
  g.seal();
  check(g.consumers(s) == 2 && g.inputs(u) == 2, "diamond: shape");
  Batch in = rows(3, 7);
  g.output(s).push(in);
  check_events("a.push(0,3) u.push(0,3) k.push(0,3) b.push(0,3) u.push(1,3) k.push(0,3)",
               "diamond: rows reach both branches");
  check(ra->seen[0] == &in && rb->seen[0] == &in, "diamond: fan-out hands the same batch");
  g.output(s).watermark(10);
  check_events("a.wm(10) b.wm(10) u.wm(10) k.wm(10)",
               "diamond: the union's watermark waits for its second input");
  g.output(s).watermark(10);
  check_events("", "diamond: a watermark that does not advance goes nowhere");
  g.flush();
  check_events("a.flush b.flush u.flush k.flush", "diamond: one flush per node, upstream first");
  g.begin_transaction();
  g.end_transaction();
  check_events("a.begin b.begin u.begin k.begin a.commit b.commit u.commit k.commit",
               "diamond: transaction hooks once per node, upstream first");
  g.output(s).end();
  check_events("a.end b.end u.end k.end", "diamond: the union ends when both inputs have ended");
  g.flush();
  check_events("", "diamond: ended nodes are not flushed");
}

// Two sources into a union: the minimum over inputs that are not idle; when all are idle, the
// largest of theirs; rows bring an idle input back; ended inputs no longer count.
void idle_inputs() {
  Graph g;
  int s1 = g.add(nullptr), s2 = g.add(nullptr), u, k;
  add(g, u, "u");
  add(g, k, "k");
  g.connect(s1, u, 0);
  g.connect(s2, u, 1);
  g.connect(u, k, 0);
  g.seal();
  g.output(s1).watermark(5);
  g.output(s2).watermark(8);
  check_events("u.wm(5) k.wm(5)", "idle: the minimum of 5 and 8");
  g.output(s2).idle();
  check_events("", "idle: the active input (5) alone holds it");
  g.output(s1).idle();
  check_events("u.wm(8) k.wm(8) u.idle k.idle",
               "idle: every input idle: the largest of theirs, and the node goes idle, once");
  g.output(s1).idle();
  check_events("", "idle: idle twice is nothing new");
  Batch in = rows(1, 1);
  g.output(s1).push(in);
  g.output(s1).watermark(7);
  check_events("u.push(0,1) k.push(0,1)",
               "idle: rows bring an input back; the watermark never goes back (7 < 8)");
  g.output(s1).watermark(20);
  check_events("u.wm(20) k.wm(20)", "idle: the input back from idle alone sets the minimum");
  g.output(s2).watermark(30);
  check_events("", "idle: an idle input's watermark does not raise it past the active one");
  g.output(s1).end();
  check_events("u.wm(30) k.wm(30) u.idle k.idle",
               "idle: with s1 ended, the only live input is idle (at 30)");
  g.output(s2).end();
  check_events("u.end k.end", "idle: the end once every input ended");
}

// One node feeding both inputs of another (the shape of a self-join over one source): the rows
// arrive on each port, the watermark once both ports carry it, the end once.
void both_ports() {
  Graph g;
  int s = g.add(nullptr), j, k;
  Recorder* rj = add(g, j, "j");
  add(g, k, "k");
  g.connect(s, j, 0);
  g.connect(s, j, 1);
  g.connect(j, k, 0);
  g.seal();
  Batch in = rows(2, 1);
  g.output(s).push(in);
  check_events("j.push(0,2) k.push(0,2) j.push(1,2) k.push(0,2)", "both ports: rows on each");
  check(rj->seen[0] == &in && rj->seen[1] == &in, "both ports: one batch, no copy");
  g.output(s).watermark(3);
  check_events("j.wm(3) k.wm(3)", "both ports: one watermark");
  g.output(s).idle();
  check_events("j.idle k.idle", "both ports: idle once");
  g.output(s).end();
  check_events("j.end k.end", "both ports: one end");
}

// A consumer that changes rows in place gets its own copy past a fan-out; alone, the batch.
void copies() {
  Graph g;
  int s = g.add(nullptr), m, r, s2 = g.add(nullptr), m2;
  Recorder* rm = add(g, m, "m", true);
  Recorder* rr = add(g, r, "r");
  Recorder* rm2 = add(g, m2, "m2", true);
  g.connect(s, m, 0);
  g.connect(s, r, 0);
  g.connect(s2, m2, 0);
  g.seal();
  Batch in = rows(2, 40);
  g.output(s).push(in);
  check(rm->seen[0] != &in && rm->first_values[0] == 40, "copies: the modifier gets a copy");
  check(rr->seen[0] == &in && rr->first_values[0] == 40,
        "copies: the other consumer sees the rows unchanged");
  Batch in2 = rows(2, 50);
  g.output(s2).push(in2);
  check(rm2->seen[0] == &in2 && int64(in2.values(0)[0]) == -1,
        "copies: a single consumer gets the batch itself");
  events.clear();
}

// Malformed graphs are refused when sealed.
void refusals() {
  bool threw = false;
  try {
    Graph g;
    int s = g.add(nullptr), u;
    add(g, u, "u");
    g.connect(s, u, 1);  // port 0 fed by nothing
    g.seal();
  } catch (const std::logic_error&) {
    threw = true;
  }
  check(threw, "refusals: an input nothing feeds");
  threw = false;
  try {
    Graph g;
    int s = g.add(nullptr), u;
    add(g, u, "u");
    g.connect(s, u, 0);
    g.connect(s, u, 0);
  } catch (const std::logic_error&) {
    threw = true;
  }
  check(threw, "refusals: an input fed twice");
  threw = false;
  try {
    Graph g;
    int a, b;
    add(g, a, "a");
    add(g, b, "b");
    g.connect(a, b, 0);
    g.connect(b, a, 0);
    g.seal();
  } catch (const std::logic_error&) {
    threw = true;
  }
  check(threw, "refusals: a cycle");
  events.clear();
}

// Spins for `ms` of the monotonic clock, counts into `stats`, then passes half the rows on.
class Metered : public Operator {
 public:
  Metered(EngineStats& stats, int64 spin_ms, int late, int bad)
      : stats_(stats), spin_ms_(spin_ms), late_(late), bad_(bad) {}
  void push(int, Batch& rows) override {
    spin(spin_ms_);
    stats_.late_rows += late_;
    stats_.bad_rows_engine += bad_;
    Batch half(1, 8);
    half.append_rows(rows, 0, rows.size() / 2);
    emit(half);
  }
  static int64 now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  static void spin(int64 ms) {
    int64 until = now_ns() + ms * 1000000;
    while (now_ns() < until) {
    }
  }

 private:
  EngineStats& stats_;
  int64 spin_ms_;
  int late_, bad_;
};

// The meters (stream_operators): rows in and out per node, the last watermark emitted, late
// and bad rows charged to the node that counted them, and busy time exclusive of the nodes a
// node feeds (which run inside its push).
void meters() {
  EngineStats stats;
  Graph g;
  int s = g.add(nullptr);
  int a = g.add(std::make_unique<Metered>(stats, 5, 0, 2));
  int b = g.add(std::make_unique<Metered>(stats, 100, 3, 0));
  int c;
  add(g, c, "c");
  g.connect(s, a, 0);
  g.connect(a, b, 0);
  g.connect(b, c, 0);
  g.seal();
  g.watch(&stats);
  int64 start = Metered::now_ns();
  Batch in = rows(8, 0);
  g.output(s).push(in);
  g.output(s).watermark(1000);
  int64 elapsed = Metered::now_ns() - start;
  events.clear();
  REQUIRE_EQ(g.meter(s).rows_out, int64(8));
  CHECK_EQ(g.meter(a).rows_in, int64(8));
  CHECK_EQ(g.meter(a).rows_out, int64(4));
  CHECK_EQ(g.meter(b).rows_in, int64(4));
  CHECK_EQ(g.meter(b).rows_out, int64(2));
  CHECK_EQ(g.meter(c).rows_in, int64(2));
  CHECK_EQ(g.meter(c).rows_out, int64(2));
  CHECK_EQ(g.meter(s).watermark_out, TimestampTz(1000));
  CHECK_EQ(g.meter(c).watermark_out, TimestampTz(1000));
  CHECK_EQ(g.watermark_in(c), TimestampTz(1000));
  CHECK_EQ(g.meter(a).bad_rows, int64(2));
  CHECK_EQ(g.meter(a).late_rows, int64(0));
  CHECK_EQ(g.meter(b).late_rows, int64(3));
  CHECK_EQ(g.meter(b).bad_rows, int64(0));
  // Each node spun at least its own time; the times are disjoint, so they add up to at most
  // the elapsed time; and a's does not include b's (b runs inside a's push: a's 5 ms against
  // b's 100 ms).
  int64 busy_a = g.meter(a).busy_ns, busy_b = g.meter(b).busy_ns;
  CHECK(busy_a >= 5 * 1000000);
  CHECK(busy_b >= 100 * 1000000);
  CHECK(busy_a + busy_b + g.meter(c).busy_ns <= elapsed);
  CHECK(busy_a < busy_b);
  CHECK_EQ(g.meter(s).busy_ns, int64(0));  // nothing ran as the source node
}

}  // namespace

TEST(meters) { meters(); }
TEST(diamond) { diamond(); }
TEST(idle_inputs) { idle_inputs(); }
TEST(both_ports) { both_ports(); }
TEST(copies) { copies(); }
TEST(refusals) { refusals(); }
