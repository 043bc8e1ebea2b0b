#include "coordinator/auth/audit_log.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"

namespace tunefleet::coordinator::auth {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_us INTEGER NOT NULL,
  principal TEXT NOT NULL,
  role TEXT NOT NULL,
  method TEXT NOT NULL,
  target TEXT NOT NULL,
  code TEXT NOT NULL,
  message TEXT NOT NULL);
)sql";
// Rows kept: the newest, so a flood of refused calls cannot fill the disk.
constexpr int64_t kKeep = 100000;

absl::Status Error(sqlite3* db, const char* what) {
  return absl::InternalError(absl::StrCat("audit log: ", what, ": ", sqlite3_errmsg(db)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& database) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    absl::Status status = Error(db, "open");
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<AuditLog> log(new AuditLog(db));
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(db, "schema");
  return log;
}

AuditLog::~AuditLog() { sqlite3_close(db_); }

absl::Status AuditLog::Record(v1::AuditEvent event) {
  return batches_.Submit(Pending{&event, absl::ToUnixMicros(absl::Now())}, [this](const std::vector<Pending*>& batch) {
    absl::MutexLock db_lock(&db_mu_);
    return std::vector<absl::Status>(batch.size(), WriteBatch(batch));
  });
}

absl::Status AuditLog::WriteBatch(const std::vector<Pending*>& batch) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return Error(db_, "begin");
  absl::Status status = [&]() -> absl::Status {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO audit_events (time_us, principal, role, method, target, code, message) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, &stmt, nullptr) != SQLITE_OK) {
      return Error(db_, "prepare");
    }
    int rc = SQLITE_DONE;
    for (const Pending* pending : batch) {
      const v1::AuditEvent& event = *pending->event;
      sqlite3_reset(stmt);
      sqlite3_bind_int64(stmt, 1, pending->time_us);
      int column = 2;
      for (const std::string* text : {&event.principal(), &event.role(), &event.method(), &event.target(),
                                      &event.code(), &event.message()}) {
        sqlite3_bind_text(stmt, column++, text->data(), static_cast<int>(text->size()), SQLITE_TRANSIENT);
      }
      rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) break;
    }
    const absl::Status inserted = rc == SQLITE_DONE ? absl::OkStatus() : Error(db_, "insert");
    sqlite3_finalize(stmt);
    return inserted;
  }();
  if (status.ok() && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) status = Error(db_, "commit");
  if (!status.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  since_prune_ += static_cast<int64_t>(batch.size());
  if (since_prune_ >= 1000) {
    since_prune_ = 0;
    const std::string prune =
        absl::StrCat("DELETE FROM audit_events WHERE id <= (SELECT MAX(id) FROM audit_events) - ", kKeep);
    sqlite3_exec(db_, prune.c_str(), nullptr, nullptr, nullptr);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::AuditEvent>> AuditLog::Newest(int limit) {
  absl::MutexLock lock(&db_mu_);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT id, time_us, principal, role, method, target, code, message FROM audit_events "
                         "ORDER BY id DESC LIMIT ?",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return Error(db_, "prepare");
  }
  sqlite3_bind_int(stmt, 1, limit);
  std::vector<v1::AuditEvent> events;
  auto text = [&](int column) {
    const unsigned char* value = sqlite3_column_text(stmt, column);
    return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
  };
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    v1::AuditEvent& event = events.emplace_back();
    event.set_id(sqlite3_column_int64(stmt, 0));
    *event.mutable_time() = ToProtoTime(absl::FromUnixMicros(sqlite3_column_int64(stmt, 1)));
    event.set_principal(text(2));
    event.set_role(text(3));
    event.set_method(text(4));
    event.set_target(text(5));
    event.set_code(text(6));
    event.set_message(text(7));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Error(db_, "select");
  return events;
}

}  // namespace tunefleet::coordinator::auth
