// The redis lookup table: a lookup join's batch of distinct keys read in one round trip,
// MGET of target.key_prefix + each key (target 'string': each value decoded by the table's
// format into the columns besides the key), or one HMGET per key, pipelined (target 'hash':
// each column reads the hash field of its name, through its type's input function; a key with
// none of the fields is not found). The key column holds the key looked up. A value the format
// cannot decode fails the pipeline, or under bad_data 'drop' counts as not found.
#include "connectors/redis/redis_lookup.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

#include <hiredis/hiredis.h>

#include <cstring>

namespace arroyo {

namespace {

constexpr size_t kMaxKeysPerCommand = 1000;

}  // namespace

RedisLookup::RedisLookup(const TableSpec& spec)
    : spec_(spec),
      config_(redis_table_config(spec)),
      client_(redis_connection(spec), "redis lookup " + spec.name),
      bad_data_(spec),
      context_("arroyo_stream redis lookup") {
  if (config_.target == RedisTarget::String) decoder_ = make_row_decoder(spec);
  input_.resize(spec.natts);
  ioparam_.resize(spec.natts);
  typmod_.resize(spec.natts, -1);
  for (const ColumnInfo& c : spec_.columns) {
    bool hash_field = config_.target == RedisTarget::Hash && !c.generated;
    if (c.attnum - 1 != config_.lookup_key && !hash_field) continue;
    int col = c.attnum - 1;
    typmod_[col] = c.typmod;
    pg::call([&] {
      Oid function;
      getTypeInputInfo(c.type, &function, &ioparam_[col]);
      fmgr_info_cxt(function, &input_[col], context_.get());
    });
    if (col != config_.lookup_key) fields_.push_back(&c);
  }
}

// Stores `text` into column `col` of row `row` through the column type's input function.
void RedisLookup::set_column(Batch& out, int row, int col, const char* text) {
  Datum d = pg::call(
      [&] { return InputFunctionCall(&input_[col], (char*)text, ioparam_[col], typmod_[col]); });
  out.values(row)[col] = d;
  out.nulls(row)[col] = false;
}

void RedisLookup::lookup(const std::vector<std::string>& keys, Batch& out,
                         std::vector<int>& row_of_key) {
  row_of_key.assign(keys.size(), -1);
  std::vector<std::string> commands;
  bool hash = config_.target == RedisTarget::Hash;
  if (hash) {
    for (const std::string& k : keys) {
      std::vector<std::string> args = {"HMGET", config_.key_prefix + k};
      for (const ColumnInfo* c : fields_) args.push_back(c->name);
      commands.push_back(redis_command(args));
    }
  } else {
    for (size_t from = 0; from < keys.size(); from += kMaxKeysPerCommand) {
      std::vector<std::string> args = {"MGET"};
      for (size_t i = from; i < std::min(keys.size(), from + kMaxKeysPerCommand); i++)
        args.push_back(config_.key_prefix + keys[i]);
      commands.push_back(redis_command(args));
    }
  }
  client_.run(commands, [&](size_t command, const redisReply* reply) {
    size_t expected =
        hash ? fields_.size()
             : std::min(kMaxKeysPerCommand, keys.size() - command * kMaxKeysPerCommand);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != expected)
      pg::fail(ERRCODE_FDW_ERROR,
               "redis lookup " + spec_.name + ": unexpected reply to " + (hash ? "HMGET" : "MGET"));
    if (hash) {
      size_t k = command;
      bool any = false;
      for (size_t f = 0; f < reply->elements; f++)
        any = any || reply->element[f]->type == REDIS_REPLY_STRING;
      if (!any) return;
      bool ok = bad_data_.decode(
          out,
          [&] {
            int row = out.append(0);
            for (size_t f = 0; f < reply->elements; f++) {
              const redisReply* v = reply->element[f];
              if (v->type != REDIS_REPLY_STRING) continue;
              const std::string& name = fields_[f]->name;
              if (memchr(v->str, '\0', v->len))
                pg::fail(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                         "column \"" + name + "\": the value contains a NUL byte");
              std::string text(v->str, v->len);
              // Text from Redis is any bytes: it must be valid in the database encoding.
              try {
                pg::call([&] { pg_verifymbstr(text.data(), int(text.size()), false); });
                set_column(out, row, fields_[f]->attnum - 1, text.c_str());
              } catch (const pg::Error& e) {
                throw pg::Error(e.sqlerrcode(), "column \"" + name + "\": " + e.message(),
                                e.detail(), e.hint());
              }
            }
            if (config_.lookup_key >= 0) set_column(out, row, config_.lookup_key, keys[k].c_str());
          },
          [&] { return "bad data in hash \"" + config_.key_prefix + keys[k] + "\""; });
      if (ok) row_of_key[k] = out.size() - 1;
      return;
    }
    for (size_t e = 0; e < reply->elements; e++) {
      size_t k = command * kMaxKeysPerCommand + e;
      const redisReply* v = reply->element[e];
      if (v->type != REDIS_REPLY_STRING) continue;  // nil: not found (or not a string)
      bool ok = bad_data_.decode(
          out,
          [&] {
            decoder_->decode(v->str, v->len, out, 0);
            if (config_.lookup_key >= 0)
              set_column(out, out.size() - 1, config_.lookup_key, keys[k].c_str());
          },
          [&] { return "bad data in the value of key \"" + config_.key_prefix + keys[k] + "\""; });
      if (ok) row_of_key[k] = out.size() - 1;
    }
  });
}

std::string RedisLookup::status() const {
  std::string s = "redis lookup " + spec_.name + ": " + client_.status();
  if (bad_data_.bad_rows())
    s += ", " + std::to_string(bad_data_.bad_rows()) + " bad values dropped";
  return s;
}

}  // namespace arroyo
