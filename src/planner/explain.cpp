// Renders a LogicalPlan for stream_explain. The plan is first turned into a tree of
// ExplainNodes (a title and named properties per node, its inputs below it), which is then
// printed as indented text or as JSON, so both formats always say the same things.
#include "planner/explain.hpp"

#include "core/plan_walk.hpp"
#include "pg/guard.hpp"
#include "planner/plan_util.hpp"

extern "C" {
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"
}

#include <functional>
#include <unordered_set>

namespace arroyo {

namespace {

// One property of a node: a text value or a list of them.
struct Prop {
  std::string key;
  std::vector<std::string> values;
  bool list = false;  // shown as a JSON array even with one value
};

struct ExplainNode {
  int id = 0;
  std::string kind;   // "Source", "Project", …
  std::string title;  // what follows "Kind [id]: "
  std::vector<Prop> props;
  std::vector<ExplainNode> inputs;
  bool repeated = false;  // a node already shown (the plan is a DAG)

  void add(const std::string& key, const std::string& value) { props.push_back({key, {value}}); }
  void add_list(const std::string& key, std::vector<std::string> values) {
    if (!values.empty()) props.push_back({key, std::move(values), true});
  }
};

// An interval of microseconds as a short text: "5 s", "100 ms", "1 min 30 s".
std::string duration(int64 us) {
  if (us == 0) return "0";
  std::string out;
  struct Unit {
    int64 us;
    const char* name;
  };
  static const Unit units[] = {
      {USECS_PER_DAY, "d"}, {USECS_PER_HOUR, "h"}, {USECS_PER_MINUTE, "min"},
      {USECS_PER_SEC, "s"}, {1000, "ms"},          {1, "us"}};
  int64 rest = us < 0 ? -us : us;
  for (const Unit& u : units) {
    if (rest < u.us) continue;
    if (!out.empty()) out += " ";
    out += std::to_string(rest / u.us) + " " + u.name;
    rest %= u.us;
  }
  return (us < 0 ? "-" : "") + out;
}

std::string att_name(TupleDesc desc, int col) {
  if (col < 0 || col >= desc->natts) return "$" + std::to_string(col + 1);
  return NameStr(TupleDescAttr(desc, col)->attname);
}

// A copy of `node` whose Vars of this level all have varno 1 (the engine reads a Var's column
// by varattno from the node's input row, whatever its varno says).
Node* to_varno_one(Node* node, void* context) {
  if (!node) return nullptr;
  if (IsA(node, Var)) {
    Var* v = (Var*)copyObjectImpl(node);
    if (v->varlevelsup == 0) {
      v->varno = 1;
      v->varnosyn = 0;  // the deparser would follow the query's own numbering
      v->varattnosyn = 0;
    }
    return (Node*)v;
  }
  return expression_tree_mutator(node, pg_walker<Node*>(to_varno_one), context);
}

// Deparses expressions whose Vars are columns of one row layout, with PostgreSQL's
// deparser: a one-entry range table naming `desc`'s columns.
class Deparser {
 public:
  Deparser(TupleDesc desc, const char* refname) {
    pg::call([&] {
      RangeTblEntry* rte = makeNode(RangeTblEntry);
      rte->rtekind = RTE_VALUES;
      List* names = NIL;
      for (int i = 0; i < desc->natts; i++)
        names = lappend(names, makeString(pstrdup(NameStr(TupleDescAttr(desc, i)->attname))));
      rte->alias = makeAlias(refname, NIL);
      rte->eref = makeAlias(refname, names);
      rte->inFromCl = true;
      PlannedStmt* stmt = makeNode(PlannedStmt);
      stmt->rtable = list_make1(rte);
      context_ = deparse_context_for_plan_tree(stmt, list_make1(pstrdup(refname)));
    });
  }
  std::string operator()(Node* expr, bool prefix = false) const {
    return pg::call([&] {
      Node* renumbered = to_varno_one(expr, nullptr);
      return (const char*)deparse_expression(renumbered, context_, prefix, false);
    });
  }

 private:
  List* context_ = nullptr;
};

std::string column_text(const PlanNode& input, int col);

// "sum(amount)", "count(*)", "count(DISTINCT x) FILTER (WHERE f)", over the input's columns.
std::string aggregate_text(const AggregateSpec& a, const PlanNode& input) {
  std::string name = pg::call([&] {
    char* n = get_func_name(a.aggref->aggfnoid);
    return n ? quote_identifier(n) : "?";
  });
  std::string out = name + "(";
  if (a.aggref->aggstar) {
    out += "*";
  } else {
    if (a.distinct) out += "DISTINCT ";
    int nargs = list_length(a.aggref->args);
    for (int i = 0; i < nargs; i++) out += (i ? ", " : "") + column_text(input, a.first_arg + i);
  }
  out += ")";
  if (a.filter_col >= 0) out += " FILTER (WHERE " + column_text(input, a.filter_col) + ")";
  return out;
}

// Column `col` of a node's rows as what computes it: the expression of a projection's column
// (over the projection's input), else the column's name.
std::string column_text(const PlanNode& input, int col) {
  if (input.kind == PlanNode::Kind::Project) {
    auto& p = static_cast<const ProjectNode&>(input);
    if (col >= 0 && col < list_length(p.targets)) {
      auto* te = (TargetEntry*)list_nth(p.targets, col);
      return Deparser(p.input->desc, "input")((Node*)te->expr);
    }
  }
  return att_name(input.desc, col);
}

std::string window_text(const WindowSpec& w) {
  switch (w.kind) {
    case WindowSpec::Kind::Tumble: return "tumble(" + duration(w.width_us) + ")";
    case WindowSpec::Kind::Hop:
      return "hop(slide " + duration(w.slide_us) + ", width " + duration(w.width_us) + ")";
    case WindowSpec::Kind::Session: return "session(gap " + duration(w.gap_us) + ")";
  }
  return "?";
}

std::string options_text(const Options& opts) {
  std::string out;
  for (const auto& [k, v] : opts) {
    if (!out.empty()) out += ", ";
    std::string quoted;
    for (char c : v) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    out += k + " '" + quoted + "'";
  }
  return out;
}

class Builder {
 public:
  Builder(const LogicalPlan& plan, const ExplainDefaults& d) : plan_(plan), defaults_(d) {
    ids_ = number_plan_nodes(plan);
    ttl_us_ = plan.settings.updating_ttl_us > 0 ? plan.settings.updating_ttl_us
                                                : defaults_.updating_ttl_us;
    flush_us_ = plan.settings.update_flush_interval_us > 0 ? plan.settings.update_flush_interval_us
                                                           : defaults_.update_flush_interval_us;
  }

  ExplainNode sink() {
    const SinkTarget& s = plan_.sink;
    ExplainNode n;
    n.id = 0;
    n.kind = "Sink";
    if (s.preview) {
      n.title = "preview";
    } else if (s.is_table) {
      n.title = std::string(s.foreign       ? "foreign table "
                            : s.partitioned ? "partitioned table "
                                            : "table ") +
                s.name;
    } else {
      n.title = std::string(s.connector ? s.connector->name() : "?") + " " + s.name;
      if (!s.spec.table_options.empty()) n.add("Options", options_text(s.spec.table_options));
    }
    n.add("Writes", writes(s));
    if (plan_.root) n.inputs.push_back(node(plan_.root.get()));
    return n;
  }

 private:
  std::string column_of_target(int col) {
    const SinkTarget& s = plan_.sink;
    if (s.is_table && OidIsValid(s.relid))
      return pg::call([&] {
        char* n = get_attname(s.relid, AttrNumber(col + 1), true);
        return n ? quote_identifier(n) : "?";
      });
    return att_name(plan_.root->desc, col);
  }

  // How the sink writes: append, upsert by key, whole rows, or change envelopes.
  std::string writes(const SinkTarget& s) {
    if (s.preview)
      return s.updating ? "rows to the caller, each with its operation (insert or delete)"
                        : "rows to the caller (inserts)";
    if (!s.updating) return s.is_table ? "append (INSERT)" : "append";
    std::string keys;
    for (int k : s.key_columns) keys += (keys.empty() ? "" : ", ") + column_of_target(k);
    std::string index;
    if (OidIsValid(s.key_index))
      index = pg::call([&] {
        char* n = get_rel_name(s.key_index);
        return n ? quote_identifier(n) : "?";
      });
    if (!s.is_table) {
      auto format = get_option(s.spec.table_options, "format");
      if (format && *format == "debezium_json")
        return "changes as Debezium envelopes (before, after, op)";
      return "changes" + (keys.empty() ? std::string() : " keyed by (" + keys + ")");
    }
    if (s.whole_rows)
      return "whole rows: inserts, and a retraction deletes one equal row (found " +
             (index.empty() ? std::string("by a scan") : "through index " + index) + ")";
    return "upsert by key (" + keys + ")" +
           (index.empty() ? std::string(", rows found by a scan") : " through index " + index) +
           "; a retraction deletes the key's row";
  }

  ExplainNode node(const PlanNode* p) {
    ExplainNode n;
    auto it = ids_.find(p);
    n.id = it == ids_.end() ? -1 : it->second;
    if (!shown_.insert(p).second) {
      n.kind = kind_title(p->kind);
      n.repeated = true;
      return n;
    }
    n.kind = kind_title(p->kind);
    switch (p->kind) {
      case PlanNode::Kind::Source: source(static_cast<const SourceNode&>(*p), n); break;
      case PlanNode::Kind::Project: project(static_cast<const ProjectNode&>(*p), n); break;
      case PlanNode::Kind::Union: break;
      case PlanNode::Kind::WindowAggregate:
        window_aggregate(static_cast<const WindowAggregateNode&>(*p), n);
        break;
      case PlanNode::Kind::UpdatingAggregate:
        updating_aggregate(static_cast<const UpdatingAggregateNode&>(*p), n);
        break;
      case PlanNode::Kind::Join: join(static_cast<const JoinNode&>(*p), n); break;
      case PlanNode::Kind::LookupJoin: {
        auto& l = static_cast<const LookupJoinNode&>(*p);
        n.title = std::string(l.left ? "left" : "inner") + ", " + l.tables;
        if (OidIsValid(l.lookup_table))
          n.add("Looks up", "1 key per event, one round trip per batch of distinct keys");
        else
          n.add("Looks up", std::to_string(l.param_columns.size()) +
                                " values per event, one query per batch of distinct values" +
                                (l.scans ? " (scans: no index serves its conditions)" : ""));
        n.add("State", "none");
        break;
      }
      case PlanNode::Kind::WindowFunction: {
        auto& w = static_cast<const WindowFunctionNode&>(*p);
        n.title = w.per_key ? "per key, in event-time order" : "per closed time window";
        n.add("Evaluated by", "PostgreSQL's WindowAgg over the buffered rows");
        break;
      }
      case PlanNode::Kind::TopN: {
        auto& t = static_cast<const TopNNode&>(*p);
        static const char* const ranks[] = {"row_number", "rank", "dense_rank"};
        n.title = "top " + std::to_string(t.limit) + " by " + ranks[int(t.rank)] +
                  (t.windowed ? ", per window" : ", updating");
        break;
      }
      case PlanNode::Kind::ProjectSet: {
        auto& ps = static_cast<const ProjectSetNode&>(*p);
        n.add("Functions", std::to_string(list_length(ps.functions)) + " in lockstep" +
                               (ps.ordinality ? ", with ordinality" : "") +
                               (ps.outer ? ", outer (a row without results kept)" : ""));
        break;
      }
    }
    if (p->updating) n.add("Changes", "updating (inserts and deletes)");
    for (PlanNode* in : plan_inputs(*p)) n.inputs.push_back(node(in));
    return n;
  }

  static std::string kind_title(PlanNode::Kind k) {
    std::string name = plan_kind_name(k);
    if (!name.empty()) name[0] = char(toupper(name[0]));
    return name;
  }

  void source(const SourceNode& s, ExplainNode& n) {
    n.title = std::string(s.connector ? s.connector->name() : "?") + " " + s.spec.name;
    if (!s.spec.table_options.empty()) n.add("Options", options_text(s.spec.table_options));
    n.add("Event time", s.time_column >= 0 ? "column " + att_name(s.desc, s.time_column)
                                           : std::string("the connector's (row_time())"));
    n.add("Watermark delay", duration(s.watermark_delay_us));
    if (s.idle_timeout_us > 0) n.add("Idle timeout", duration(s.idle_timeout_us));
    std::vector<std::string> not_null;
    for (int c : s.not_null_columns) not_null.push_back(att_name(s.desc, c));
    n.add_list("Not null columns", not_null);
    if (s.generated) {
      Deparser dp(s.desc, "source");
      std::vector<std::string> gen;
      ListCell* lc;
      int col = 0;
      foreach (lc, s.generated) {
        auto* te = (TargetEntry*)lfirst(lc);
        if (!IsA(te->expr, Var) || ((Var*)te->expr)->varattno != col + 1)
          gen.push_back(att_name(s.desc, col) + " = " + dp((Node*)te->expr));
        col++;
      }
      n.add_list("Generated columns", gen);
    }
  }

  void project(const ProjectNode& p, ExplainNode& n) {
    Deparser dp(p.input->desc, "input");
    ListCell* lc;
    std::vector<std::string> filters;
    foreach (lc, p.quals) filters.push_back(dp((Node*)lfirst(lc)));
    n.add_list("Filter", filters);
    std::vector<std::string> out;
    foreach (lc, p.targets) {
      auto* te = (TargetEntry*)lfirst(lc);
      std::string e = dp((Node*)te->expr);
      std::string name = att_name(p.desc, te->resno - 1);
      out.push_back(e == quote_identifier(name.c_str()) ? e : e + " AS " + name);
    }
    n.add_list("Output", out);
  }

  void aggregates(int num_keys, const std::vector<AggregateSpec>& aggs, const PlanNode& input,
                  ExplainNode& n) {
    std::vector<std::string> keys;
    for (int k = 0; k < num_keys; k++) keys.push_back(column_text(input, k));
    n.add_list("Group keys", keys);
    std::vector<std::string> out;
    for (const AggregateSpec& a : aggs) out.push_back(aggregate_text(a, input));
    n.add_list("Aggregates", out);
  }

  void window_aggregate(const WindowAggregateNode& w, ExplainNode& n) {
    n.add("Window", window_text(w.window));
    aggregates(w.num_keys, w.aggregates, *w.input, n);
    n.add("State",
          "groups per window, freed when the watermark passes its end; rows behind the "
          "watermark are late (dropped)");
  }

  void updating_aggregate(const UpdatingAggregateNode& u, ExplainNode& n) {
    aggregates(u.num_keys, u.aggregates, *u.input, n);
    n.add("State", "one group per key, " +
                       (ttl_us_ > 0 ? "forgotten after " + duration(ttl_us_) + " untouched (TTL)"
                                    : std::string("kept forever (no TTL)")));
    n.add("Emits", "changed groups every " + duration(flush_us_) +
                       " (a delete of the old row, an insert of the new)");
  }

  void join(const JoinNode& j, ExplainNode& n) {
    static const char* const types[] = {"inner", "left", "right", "full", "semi", "anti"};
    n.title = std::string(types[int(j.type)]) + (j.window_key >= 0 ? ", windowed"
                                                 : j.interval()    ? ", interval"
                                                                   : ", updating");
    Deparser left(j.left->desc, "left"), right(j.right->desc, "right");
    std::vector<std::string> keys;
    ListCell *l, *r;
    forboth(l, j.left_keys, r, j.right_keys)
        keys.push_back(left((Node*)lfirst(l), true) + " = " + right((Node*)lfirst(r), true));
    n.add_list("Join keys", keys);
    if (j.residual) {
      Deparser joined(j.desc, "joined");
      std::vector<std::string> res;
      ListCell* lc;
      foreach (lc, j.residual) res.push_back(joined((Node*)lfirst(lc)));
      n.add_list("Residual", res);
    }
    if (j.window_key >= 0) {
      n.add("Window", "join key " + std::to_string(j.window_key + 1) +
                          " is both sides' window; a window's rows are kept until the watermark "
                          "passes its end");
    } else if (j.interval()) {
      auto time = [](TupleDesc d, const char* side, int col, bool window) {
        std::string c = std::string(side) + "." + att_name(d, col);
        return window ? "upper(" + c + ")" : c;
      };
      auto offset = [](int64 us) {
        return us == 0 ? std::string() : (us > 0 ? " + " : " - ") + duration(us < 0 ? -us : us);
      };
      n.add("Event time",
            time(j.left->desc, "left", j.left_time_col, j.left_time_is_window) + ", " +
                time(j.right->desc, "right", j.right_time_col, j.right_time_is_window));
      n.add_list("Kept until",
                 {"a left row: the right watermark passes " +
                      time(j.left->desc, "left", j.left_expiry_col, j.left_expiry_is_window) +
                      offset(j.left_expiry_offset_us),
                  "a right row: the left watermark passes " +
                      time(j.right->desc, "right", j.right_expiry_col, j.right_expiry_is_window) +
                      offset(j.right_expiry_offset_us)});
      n.add("State",
            "each side's rows by key, until the other side's watermark rules out a "
            "match");
    } else {
      n.add("State",
            "each side's rows by key, " +
                (ttl_us_ > 0 ? "a key forgotten after " + duration(ttl_us_) + " untouched (TTL)"
                             : std::string("kept forever (no TTL)")));
    }
  }

  const LogicalPlan& plan_;
  ExplainDefaults defaults_;
  std::unordered_map<const PlanNode*, int> ids_;
  std::unordered_set<const PlanNode*> shown_;
  int64 ttl_us_ = 0, flush_us_ = 0;
};

std::string heading(const ExplainNode& n) {
  std::string out = n.kind + " [" + std::to_string(n.id) + "]";
  if (n.repeated) return out + " (shown above)";
  if (!n.title.empty()) out += ": " + n.title;
  return out;
}

void print_text(const ExplainNode& n, int indent, bool arrow, std::vector<std::string>& out) {
  std::string pad(indent, ' ');
  out.push_back(pad + (arrow ? "->  " : "") + heading(n));
  std::string prop_pad(indent + (arrow ? 6 : 2), ' ');
  for (const Prop& p : n.props) {
    std::string line = prop_pad + p.key + ": ";
    for (size_t i = 0; i < p.values.size(); i++) line += (i ? ", " : "") + p.values[i];
    out.push_back(line);
  }
  for (const ExplainNode& in : n.inputs) print_text(in, indent + (arrow ? 6 : 2), true, out);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string print_json(const ExplainNode& n) {
  std::string out = "{\"Node\": " + std::to_string(n.id) + ", \"Kind\": " + json_string(n.kind);
  if (n.repeated) return out + ", \"Shown Above\": true}";
  if (!n.title.empty()) out += ", \"Title\": " + json_string(n.title);
  for (const Prop& p : n.props) {
    out += ", " + json_string(p.key) + ": ";
    if (p.list) {
      out += "[";
      for (size_t i = 0; i < p.values.size(); i++)
        out += (i ? ", " : "") + json_string(p.values[i]);
      out += "]";
    } else {
      out += json_string(p.values.empty() ? "" : p.values[0]);
    }
  }
  if (!n.inputs.empty()) {
    out += ", \"Inputs\": [";
    for (size_t i = 0; i < n.inputs.size(); i++) out += (i ? ", " : "") + print_json(n.inputs[i]);
    out += "]";
  }
  return out + "}";
}

}  // namespace

std::vector<std::string> explain_plan(const LogicalPlan& plan, const ExplainDefaults& defaults,
                                      bool json) {
  ExplainNode root = Builder(plan, defaults).sink();
  const PipelineSettings& s = plan.settings;
  auto setting = [](int64 set, int64 fallback, const char* name) {
    int64 v = set > 0 ? set : fallback;
    return std::string(name) + " = " + (v > 0 ? duration(v) : std::string("0")) +
           (set > 0 ? "" : " (default)");
  };
  std::vector<std::string> settings = {
      setting(s.checkpoint_interval_us, defaults.checkpoint_interval_us, "checkpoint_interval"),
      setting(s.update_flush_interval_us, defaults.update_flush_interval_us,
              "update_aggregate_flush_interval"),
      setting(s.updating_ttl_us, defaults.updating_ttl_us, "updating_ttl")};
  if (s.parallelism > 1) settings.push_back("parallelism = " + std::to_string(s.parallelism));
  const char* note =
      "filters, outputs, join keys, residual conditions and generated columns are evaluated by "
      "PostgreSQL's executor";
  if (json) {
    std::string doc = "{\"Pipeline\": " + print_json(root) + ", \"Settings\": [";
    for (size_t i = 0; i < settings.size(); i++) doc += (i ? ", " : "") + json_string(settings[i]);
    doc +=
        "], \"Reads Table Changes\": " + std::string(plan.reads_table_changes ? "true" : "false");
    doc += ", \"Evaluated By PostgreSQL\": " + json_string(note) + "}";
    return {doc};
  }
  std::vector<std::string> out;
  print_text(root, 0, false, out);
  std::string line = "Settings: ";
  for (size_t i = 0; i < settings.size(); i++) line += (i ? ", " : "") + settings[i];
  out.push_back(line);
  if (plan.reads_table_changes) out.push_back("Reads table changes through a replication slot");
  if (s.parallelism > 1)
    out.push_back("Workers: " + std::to_string(s.parallelism) +
                  "; rows are exchanged by their key before each aggregate, join, top-N and window "
                  "functions and an updating table target (gathered into worker 0 without a key, "
                  "and before a sink that does not split); a tumble or hop aggregate whose "
                  "aggregates all combine exchanges each worker's partial states per pane instead "
                  "of its rows");
  out.push_back(std::string("Note: ") + note);
  return out;
}

}  // namespace arroyo
