#include "coordinator/store/store.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace tunefleet::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  request_id TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL,
  job BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  job TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  event BLOB NOT NULL,
  PRIMARY KEY (job, sequence));
CREATE TABLE IF NOT EXISTS attempts (
  job TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  start_us INTEGER NOT NULL,
  end_us INTEGER NOT NULL,
  end_reason INTEGER NOT NULL,
  end_message TEXT NOT NULL,
  placements BLOB NOT NULL,
  PRIMARY KEY (job, attempt));
CREATE TABLE IF NOT EXISTS workers (
  name TEXT PRIMARY KEY,
  worker BLOB NOT NULL);
)sql";

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  absl::Status status() const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("sqlite prepare: ", sqlite3_errmsg(db_)));
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindText(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  absl::Status Run() {
    const int rc = Step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return absl::OkStatus();
    if (rc == SQLITE_CONSTRAINT) return absl::AlreadyExistsError(sqlite3_errmsg(db_));
    return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) {
    const void* data = sqlite3_column_blob(stmt_, col);
    return std::string(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() ran.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status Commit() {
    if (!ok_) return absl::InternalError(absl::StrCat("sqlite begin: ", sqlite3_errmsg(db_)));
    done_ = true;
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("sqlite commit: ", sqlite3_errmsg(db_)));
    }
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  bool ok_ = false;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open database ", path, ": ", message));
  }
  std::unique_ptr<Store> store(new Store(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL: readers never block the writer; FULL: a commit is on disk (fsync)
  // before it returns, which is what "durable before the reply" needs.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto s = store->Exec(pragma); !s.ok()) return s;
  }
  if (auto s = store->Exec(kSchema); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("database ", path, ": ", s.message()));
  }
  return store;
}

Store::~Store() { sqlite3_close(db_); }

absl::Status Store::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("sqlite: ", message));
  }
  return absl::OkStatus();
}

absl::Status Store::AppendEvents(const std::vector<v1::JobEvent>& events) {
  for (const v1::JobEvent& event : events) {
    Statement insert(db_, "INSERT INTO events (job, sequence, event) VALUES (?, ?, ?)");
    if (auto s = insert.status(); !s.ok()) return s;
    insert.BindText(1, event.job());
    insert.Bind(2, event.sequence());
    insert.Bind(3, event.SerializeAsString());
    if (auto s = insert.Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Store::PutAttempt(const AttemptRecord& a) {
  Statement put(db_,
                "INSERT OR REPLACE INTO attempts (job, attempt, generation, start_us, end_us, end_reason, "
                "end_message, placements) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (auto s = put.status(); !s.ok()) return s;
  v1::Job holder;  // placements serialized through the Job message's repeated field
  for (const auto& p : a.placements) *holder.add_placements() = p;
  put.BindText(1, a.job);
  put.Bind(2, a.attempt);
  put.Bind(3, a.generation);
  put.Bind(4, a.start_unix_micros);
  put.Bind(5, a.end_unix_micros);
  put.Bind(6, static_cast<int64_t>(a.end_reason));
  put.BindText(7, a.end_message);
  put.Bind(8, holder.SerializeAsString());
  return put.Run();
}

absl::StatusOr<int64_t> Store::InsertJob(const v1::Job& job, const std::string& request_id,
                                         const std::vector<v1::JobEvent>& events) {
  Transaction tx(db_);
  Statement insert(db_, "INSERT INTO jobs (name, request_id, state, job) VALUES (?, ?, ?, ?)");
  if (auto s = insert.status(); !s.ok()) return s;
  insert.BindText(1, job.name());
  insert.BindText(2, request_id);
  insert.Bind(3, static_cast<int64_t>(job.state()));
  insert.Bind(4, job.SerializeAsString());
  if (auto s = insert.Run(); !s.ok()) return s;
  const int64_t order = sqlite3_last_insert_rowid(db_);
  if (auto s = AppendEvents(events); !s.ok()) return s;
  if (auto s = tx.Commit(); !s.ok()) return s;
  return order;
}

absl::Status Store::UpdateJob(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                              const std::optional<AttemptRecord>& attempt) {
  Transaction tx(db_);
  Statement update(db_, "UPDATE jobs SET state = ?, job = ? WHERE name = ?");
  if (auto s = update.status(); !s.ok()) return s;
  update.Bind(1, static_cast<int64_t>(job.state()));
  update.Bind(2, job.SerializeAsString());
  update.BindText(3, job.name());
  if (auto s = update.Run(); !s.ok()) return s;
  if (sqlite3_changes(db_) != 1) return absl::NotFoundError(absl::StrCat(job.name(), " is not in the store"));
  if (auto s = AppendEvents(events); !s.ok()) return s;
  if (attempt) {
    if (auto s = PutAttempt(*attempt); !s.ok()) return s;
  }
  return tx.Commit();
}

absl::Status Store::PutWorker(const v1::Worker& worker) {
  Statement put(db_, "INSERT OR REPLACE INTO workers (name, worker) VALUES (?, ?)");
  if (auto s = put.status(); !s.ok()) return s;
  put.BindText(1, worker.name());
  put.Bind(2, worker.SerializeAsString());
  return put.Run();
}

absl::StatusOr<std::vector<StoredJob>> Store::LoadJobs() {
  Statement select(db_, "SELECT seq, request_id, job FROM jobs ORDER BY seq");
  if (auto s = select.status(); !s.ok()) return s;
  std::vector<StoredJob> jobs;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    StoredJob stored;
    stored.order = select.Int(0);
    stored.request_id = select.Blob(1);
    if (!stored.job.ParseFromString(select.Blob(2))) return absl::DataLossError("unreadable job row");
    jobs.push_back(std::move(stored));
  }
  if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  return jobs;
}

absl::StatusOr<std::vector<v1::JobEvent>> Store::LoadEvents(const std::string& job, int64_t after) {
  Statement select(db_, "SELECT event FROM events WHERE job = ? AND sequence > ? ORDER BY sequence");
  if (auto s = select.status(); !s.ok()) return s;
  select.BindText(1, job);
  select.Bind(2, after);
  std::vector<v1::JobEvent> events;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    v1::JobEvent event;
    if (!event.ParseFromString(select.Blob(0))) return absl::DataLossError("unreadable event row");
    events.push_back(std::move(event));
  }
  if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  return events;
}

absl::StatusOr<std::vector<AttemptRecord>> Store::LoadAttempts(const std::string& job) {
  Statement select(db_,
                   "SELECT attempt, generation, start_us, end_us, end_reason, end_message, placements "
                   "FROM attempts WHERE job = ? ORDER BY attempt");
  if (auto s = select.status(); !s.ok()) return s;
  select.BindText(1, job);
  std::vector<AttemptRecord> attempts;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    AttemptRecord a;
    a.job = job;
    a.attempt = select.Int(0);
    a.generation = select.Int(1);
    a.start_unix_micros = select.Int(2);
    a.end_unix_micros = select.Int(3);
    a.end_reason = static_cast<v1::AttemptEndReason>(select.Int(4));
    a.end_message = select.Blob(5);
    v1::Job holder;
    if (!holder.ParseFromString(select.Blob(6))) return absl::DataLossError("unreadable attempt row");
    a.placements.assign(holder.placements().begin(), holder.placements().end());
    attempts.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  return attempts;
}

absl::StatusOr<std::vector<v1::Worker>> Store::LoadWorkers() {
  Statement select(db_, "SELECT worker FROM workers ORDER BY name");
  if (auto s = select.status(); !s.ok()) return s;
  std::vector<v1::Worker> workers;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    v1::Worker worker;
    if (!worker.ParseFromString(select.Blob(0))) return absl::DataLossError("unreadable worker row");
    workers.push_back(std::move(worker));
  }
  if (rc != SQLITE_DONE) return absl::InternalError(absl::StrCat("sqlite: ", sqlite3_errmsg(db_)));
  return workers;
}

}  // namespace tunefleet::store
