// The redis lookup table (type 'lookup'): see redis_lookup.cpp.
#pragma once

#include "connectors/redis/redis_client.hpp"
#include "formats/format.hpp"
#include "formats/json.hpp"

#include <memory>

namespace arroyo {

class RedisLookup : public LookupTable {
 public:
  explicit RedisLookup(const TableSpec& spec);
  void lookup(const std::vector<std::string>& keys, Batch& out,
              std::vector<int>& row_of_key) override;
  std::string status() const override;

 private:
  void set_column(Batch& out, int row, int col, const char* text);

  TableSpec spec_;
  RedisTableConfig config_;
  RedisClient client_;
  BadData bad_data_;
  OwnedMemoryContext context_;           // the input functions' caches
  std::unique_ptr<RowDecoder> decoder_;  // target 'string'
  std::vector<FmgrInfo> input_;          // per column read from text (the key; hash fields)
  std::vector<Oid> ioparam_;
  std::vector<int32> typmod_;
  std::vector<const ColumnInfo*> fields_;  // hash: the columns read, in HMGET order
};

}  // namespace arroyo
