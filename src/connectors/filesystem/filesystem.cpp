// filesystem: a sink writing rolling files (JSON lines, CSV, Avro) into a server directory,
// exactly once (filesystem_sink.hpp). Server file access needs pg_write_server_files, as
// COPY TO a file does.
#include "connectors/filesystem/filesystem_options.hpp"
#include "connectors/filesystem/filesystem_sink.hpp"
#include "core/connector.hpp"
#include "pg/guard.hpp"

namespace arroyo {
namespace {

class FilesystemConnector : public Connector {
 public:
  const char* name() const override { return "filesystem"; }

  void validate_table(const TableSpec& spec) const override { validate_filesystem_table(spec); }

  TableRole role(const TableSpec&) const override { return TableRole::Sink; }

  // Each worker of a parallel pipeline writes files of its own: their names carry its subtask
  // (`<pipeline>-<subtask>-<sequence>`, a sequence per subtask), a restart cuts back and deletes
  // only files with its own prefix (the digits-only sequence keeps prefix "p-1-" from matching
  // "p-10-…" or another pipeline's "p-1-0-…"), and partition directories tolerate being
  // created by two workers at once.
  bool splits_sink(const TableSpec&) const override { return true; }

  void check_privileges(const TableSpec&, TableRole) const override {
    if (!pg::call([&] { return has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES); }))
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
               "must be superuser or have privileges of the pg_write_server_files role to "
               "write files with filesystem");
  }

  std::unique_ptr<Sink> make_sink(const TableSpec& spec) const override {
    return std::make_unique<FilesystemSink>(spec);
  }
};

}  // namespace

const Connector& filesystem_connector() {
  static const FilesystemConnector connector;
  return connector;
}

}  // namespace arroyo
