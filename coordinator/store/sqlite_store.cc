#include "coordinator/store/sqlite_store.h"

#include <functional>

#include <sqlite3.h>
#include <sys/stat.h>

#include <iostream>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/store/database_lock.h"

namespace tunefleet::store {
namespace {

// PRAGMA application_id of a tunefleet database ("TFLT"): a SQLite file
// without it and without our tables is someone else's.
constexpr int64_t kApplicationId = 0x54464C54;

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
CREATE TABLE IF NOT EXISTS metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  sample BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_by_job ON metrics (job, id);
CREATE TABLE IF NOT EXISTS sweeps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  request_id TEXT NOT NULL DEFAULT '',
  sweep BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source_table TEXT NOT NULL,
  row_key TEXT NOT NULL,
  column_name TEXT NOT NULL,
  why TEXT NOT NULL,
  row_data BLOB NOT NULL,
  time_us INTEGER NOT NULL);
)sql";

// The status of a failed SQLite call. Failures that may pass (a full disk, a
// read-only or busy file, I/O errors) are UNAVAILABLE: the control plane
// fails the RPC with it and the caller retries.
absl::Status SqliteError(sqlite3* db, int rc, const char* what) {
  const std::string message = absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

// A prepared statement that finalizes itself; or, made from one its owner
// keeps (SqliteStore::Kept), that resets it for the next use instead.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  Statement(sqlite3* db, sqlite3_stmt* kept, int rc) : db_(db), stmt_(kept), rc_(rc), kept_(true) {}
  ~Statement() {
    if (!kept_) {
      sqlite3_finalize(stmt_);
    } else if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  absl::Status status() const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return SqliteError(db_, rc_, "prepare");
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
    return SqliteError(db_, rc, "write");
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) {
    const void* data = sqlite3_column_blob(stmt_, col);
    return std::string(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  absl::Status Done(int rc) const { return rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db_, rc, "read"); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  bool kept_ = false;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() ran.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { rc_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr); }
  ~Transaction() {
    if (rc_ == SQLITE_OK && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status status() const { return rc_ == SQLITE_OK ? absl::OkStatus() : SqliteError(db_, rc_, "begin"); }
  absl::Status Commit() {
    if (rc_ != SQLITE_OK) return status();
    const int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "commit");  // the destructor rolls back
    done_ = true;
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  int rc_;
  bool done_ = false;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::unique_ptr<DatabaseLock> lock, SqliteOptions options)
      : db_(db), lock_(std::move(lock)), options_(std::move(options)) {}
  ~SqliteStore() override {
    for (const auto& [sql, stmt] : kept_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  absl::Status Exec(const char* sql);
  absl::StatusOr<int64_t> QueryInt(const char* sql);
  // Refuses a file that is not ours; creates the schema where allowed.
  absl::Status CheckAndInit(const std::string& path, bool existed);

  absl::StatusOr<std::vector<int64_t>> InsertJobs(const std::vector<NewJob>& jobs) override;
  absl::Status UpdateJob(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                         const std::optional<AttemptRecord>& attempt) override;
  absl::Status UpdateJobs(const std::vector<JobUpdate>& updates) override;
  absl::Status PutWorker(const v1::Worker& worker) override;
  absl::StatusOr<std::vector<StoredJob>> LoadJobs() override;
  absl::StatusOr<StoredJob> LoadJob(const std::string& name) override;
  absl::StatusOr<std::vector<StoredJob>> LoadJobsAfter(int64_t after, const std::vector<v1::JobState>& states,
                                                       int64_t limit) override;
  absl::Status DeleteWorker(const std::string& name) override;
  absl::StatusOr<std::vector<v1::JobEvent>> LoadEvents(const std::string& job, int64_t after,
                                                       int64_t limit) override;
  absl::StatusOr<std::vector<AttemptRecord>> LoadAttempts(const std::string& job) override;
  absl::StatusOr<std::vector<v1::Worker>> LoadWorkers() override;
  absl::StatusOr<std::vector<int64_t>> InsertSweep(const v1::Sweep& sweep, const std::string& request_id,
                                                   const std::vector<NewJob>& members) override;
  absl::Status UpdateSweep(const v1::Sweep& sweep) override;
  absl::StatusOr<std::vector<StoredSweep>> LoadSweeps() override;
  absl::Status AppendMetrics(const std::string& job, const std::vector<v1::MetricSample>& samples,
                             const MetricRetention& keep) override;
  absl::StatusOr<std::vector<v1::MetricSample>> LoadMetrics(const std::string& job) override;

 private:
  absl::Status AppendEvents(const std::vector<v1::JobEvent>& events);
  // The job rows of InsertJobs, inside the caller's transaction.
  absl::StatusOr<std::vector<int64_t>> InsertJobRows(const std::vector<NewJob>& jobs);
  // Jobs rows matching `where` (with its parameters bound by `bind`); a row
  // that does not read back is DATA_LOSS naming it (LoadJobs, at start, is
  // where the bad-row policy applies).
  absl::StatusOr<std::vector<StoredJob>> SelectJobs(const std::string& where,
                                                    const std::function<void(Statement&)>& bind);
  absl::Status PutAttempt(const AttemptRecord& attempt);
  // UpdateJob's writes, inside the caller's transaction.
  absl::Status UpdateJobRow(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                            const std::optional<AttemptRecord>& attempt);
  void Log(const std::string& message) const {
    if (options_.log) {
      options_.log(message);
    } else {
      std::cerr << "store: " << message << std::endl;
    }
  }
  // A row that does not read back: DATA_LOSS naming it, or (kQuarantine) the
  // row moved aside and OK, so the caller skips it.
  absl::Status BadRow(const std::string& table, const std::string& key_sql, const std::string& key,
                      const std::string& column, const std::string& why, const std::string& data);

  // `sql`, prepared on its first use and kept: the writes of every submission,
  // placement and end run the same few statements, and preparing one
  // (parsing, planning) costs more than running it.
  Statement Kept(const char* sql);

  sqlite3* db_;
  std::unique_ptr<DatabaseLock> lock_;  // released after the database closes
  SqliteOptions options_;
  std::map<std::string, sqlite3_stmt*> kept_;  // Kept's statements, by their SQL
};

Statement SqliteStore::Kept(const char* sql) {
  auto found = kept_.find(sql);
  if (found != kept_.end()) return Statement(db_, found->second, SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Statement(db_, nullptr, rc);  // prepared again next time
  kept_.emplace(sql, stmt);
  return Statement(db_, stmt, SQLITE_OK);
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    absl::Status s = SqliteError(db_, rc, "exec");
    return absl::Status(s.code(), absl::StrCat("sqlite: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::QueryInt(const char* sql) {
  Statement select(db_, sql);
  if (auto s = select.status(); !s.ok()) return s;
  const int rc = select.Step();
  if (rc == SQLITE_ROW) return select.Int(0);
  if (auto s = select.Done(rc); !s.ok()) return s;
  return 0;
}

absl::Status SqliteStore::CheckAndInit(const std::string& path, bool existed) {
  // Reading the header is the first access: a file that is not SQLite fails here.
  auto application_id = QueryInt("PRAGMA application_id");
  if (!application_id.ok()) {
    return absl::DataLossError(absl::StrCat("database ", path, " is not a tunefleet database (",
                                            application_id.status().message(), "); refusing to start on it"));
  }
  auto tables = QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  if (!tables.ok()) return tables.status();
  auto has_jobs = QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'");
  if (!has_jobs.ok()) return has_jobs.status();
  const bool ours = *application_id == kApplicationId || (*application_id == 0 && *has_jobs == 1);
  if (*tables > 0 && !ours) {
    return absl::DataLossError(absl::StrCat("database ", path,
                                            " holds another application's tables (no tunefleet jobs table, "
                                            "application_id ",
                                            *application_id, "); refusing to start on it, --init included"));
  }
  if (*tables == 0 && existed && !options_.init) {
    return absl::DataLossError(absl::StrCat("database ", path,
                                            " exists but is empty (zero-length, or no tables): a wrong volume or "
                                            "path would start with no jobs; pass --init to create a new database "
                                            "there"));
  }
  // WAL: readers never block the writer; FULL: a commit is on disk (fsync)
  // before it returns, which is what "durable before the reply" needs.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto s = Exec(pragma); !s.ok()) return s;
  }
  if (auto s = Exec(kSchema); !s.ok()) return absl::Status(s.code(), absl::StrCat("database ", path, ": ", s.message()));
  if (*application_id != kApplicationId) {
    if (auto s = Exec(absl::StrCat("PRAGMA application_id=", kApplicationId).c_str()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::BadRow(const std::string& table, const std::string& key_sql, const std::string& key,
                                 const std::string& column, const std::string& why, const std::string& data) {
  const std::string named =
      absl::StrCat("table ", table, ", row ", key_sql, "=", key, ", column ", column, ": ", why);
  if (options_.bad_rows == BadRowPolicy::kRefuse) {
    return absl::DataLossError(absl::StrCat(
        "unreadable row (", named, "); start with --bad-rows=quarantine to move it aside and go on"));
  }
  Transaction tx(db_);
  Statement keep(db_,
                 "INSERT INTO quarantine (source_table, row_key, column_name, why, row_data, time_us) "
                 "VALUES (?, ?, ?, ?, ?, strftime('%s','now') * 1000000)");
  if (auto s = keep.status(); !s.ok()) return s;
  keep.BindText(1, table);
  keep.BindText(2, key);
  keep.BindText(3, column);
  keep.BindText(4, why);
  keep.Bind(5, data);
  if (auto s = keep.Run(); !s.ok()) return s;
  const std::string remove = absl::StrCat("DELETE FROM ", table, " WHERE ", key_sql, " = ?");
  Statement drop(db_, remove.c_str());
  if (auto s = drop.status(); !s.ok()) return s;
  drop.BindText(1, key);
  if (auto s = drop.Run(); !s.ok()) return s;
  if (auto s = tx.Commit(); !s.ok()) return s;
  Log(absl::StrCat("QUARANTINED unreadable row (", named, "): moved to table quarantine"));
  return absl::OkStatus();
}

absl::Status SqliteStore::AppendEvents(const std::vector<v1::JobEvent>& events) {
  for (const v1::JobEvent& event : events) {
    Statement insert = Kept("INSERT INTO events (job, sequence, event) VALUES (?, ?, ?)");
    if (auto s = insert.status(); !s.ok()) return s;
    insert.BindText(1, event.job());
    insert.Bind(2, event.sequence());
    insert.Bind(3, event.SerializeAsString());
    if (auto s = insert.Run(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::PutAttempt(const AttemptRecord& a) {
  Statement put = Kept(
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

absl::StatusOr<std::vector<int64_t>> SqliteStore::InsertJobs(const std::vector<NewJob>& jobs) {
  Transaction tx(db_);
  if (auto s = tx.status(); !s.ok()) return s;
  auto orders = InsertJobRows(jobs);
  if (!orders.ok()) return orders.status();
  if (auto s = tx.Commit(); !s.ok()) return s;
  return orders;
}

absl::StatusOr<std::vector<int64_t>> SqliteStore::InsertSweep(const v1::Sweep& sweep, const std::string& request_id,
                                                              const std::vector<NewJob>& members) {
  Transaction tx(db_);
  if (auto s = tx.status(); !s.ok()) return s;
  Statement insert(db_, "INSERT INTO sweeps (name, request_id, sweep) VALUES (?, ?, ?)");
  if (auto s = insert.status(); !s.ok()) return s;
  insert.BindText(1, sweep.name());
  insert.BindText(2, request_id);
  insert.Bind(3, sweep.SerializeAsString());
  if (auto s = insert.Run(); !s.ok()) return s;
  auto orders = InsertJobRows(members);
  if (!orders.ok()) return orders.status();
  if (auto s = tx.Commit(); !s.ok()) return s;
  return orders;
}

absl::Status SqliteStore::UpdateSweep(const v1::Sweep& sweep) {
  Statement update(db_, "UPDATE sweeps SET sweep = ? WHERE name = ?");
  if (auto s = update.status(); !s.ok()) return s;
  update.Bind(1, sweep.SerializeAsString());
  update.BindText(2, sweep.name());
  if (auto s = update.Run(); !s.ok()) return s;
  if (sqlite3_changes(db_) != 1) return absl::NotFoundError(absl::StrCat(sweep.name(), " is not in the store"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredSweep>> SqliteStore::LoadSweeps() {
  Statement select(db_, "SELECT name, request_id, sweep FROM sweeps ORDER BY seq");
  if (auto s = select.status(); !s.ok()) return s;
  std::vector<StoredSweep> sweeps;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    StoredSweep stored;
    const std::string name = select.Blob(0);
    stored.request_id = select.Blob(1);
    if (!stored.sweep.ParseFromString(select.Blob(2)) || stored.sweep.name() != name) {
      return absl::DataLossError(
          absl::StrCat("unreadable row (table sweeps, row name=", name, ", column sweep: not a serialized "
                       "tunefleet.v1.Sweep of that name)"));
    }
    sweeps.push_back(std::move(stored));
  }
  if (auto s = select.Done(rc); !s.ok()) return s;
  return sweeps;
}

absl::StatusOr<std::vector<int64_t>> SqliteStore::InsertJobRows(const std::vector<NewJob>& jobs) {
  std::vector<int64_t> orders;
  for (const NewJob& row : jobs) {
    Statement insert = Kept("INSERT INTO jobs (name, request_id, state, job) VALUES (?, ?, ?, ?)");
    if (auto s = insert.status(); !s.ok()) return s;
    insert.BindText(1, row.job.name());
    insert.BindText(2, row.request_id);
    insert.Bind(3, static_cast<int64_t>(row.job.state()));
    insert.Bind(4, row.job.SerializeAsString());
    if (auto s = insert.Run(); !s.ok()) return s;
    orders.push_back(sqlite3_last_insert_rowid(db_));
    if (auto s = AppendEvents(row.events); !s.ok()) return s;
  }
  return orders;
}

absl::Status SqliteStore::UpdateJob(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                                    const std::optional<AttemptRecord>& attempt) {
  Transaction tx(db_);
  if (auto s = tx.status(); !s.ok()) return s;
  if (auto s = UpdateJobRow(job, events, attempt); !s.ok()) return s;
  return tx.Commit();
}

absl::Status SqliteStore::UpdateJobs(const std::vector<JobUpdate>& updates) {
  if (updates.empty()) return absl::OkStatus();
  Transaction tx(db_);
  if (auto s = tx.status(); !s.ok()) return s;
  for (const JobUpdate& update : updates) {
    if (auto s = UpdateJobRow(update.job, update.events, update.attempt); !s.ok()) return s;
  }
  return tx.Commit();
}

absl::Status SqliteStore::UpdateJobRow(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                                       const std::optional<AttemptRecord>& attempt) {
  Statement update = Kept("UPDATE jobs SET state = ?, job = ? WHERE name = ?");
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
  return absl::OkStatus();
}

absl::Status SqliteStore::PutWorker(const v1::Worker& worker) {
  Statement put = Kept("INSERT OR REPLACE INTO workers (name, worker) VALUES (?, ?)");
  if (auto s = put.status(); !s.ok()) return s;
  put.BindText(1, worker.name());
  put.Bind(2, worker.SerializeAsString());
  return put.Run();
}

absl::StatusOr<std::vector<StoredJob>> SqliteStore::LoadJobs() {
  struct Bad {
    std::string key, column, why, data;
  };
  std::vector<StoredJob> jobs;
  std::vector<Bad> bad;
  {
    Statement select(db_,
                     "SELECT j.seq, j.name, j.request_id, j.state, j.job, "
                     "(SELECT MAX(e.sequence) FROM events e WHERE e.job = j.name) FROM jobs j ORDER BY j.seq");
    if (auto s = select.status(); !s.ok()) return s;
    int rc;
    while ((rc = select.Step()) == SQLITE_ROW) {
      StoredJob stored;
      stored.order = select.Int(0);
      const std::string name = select.Blob(1);
      stored.request_id = select.Blob(2);
      const int64_t state = select.Int(3);
      const std::string data = select.Blob(4);
      stored.last_event = select.Int(5);
      if (!stored.job.ParseFromString(data)) {
        bad.push_back({name, "job", "not a serialized tunefleet.v1.Job", data});
      } else if (stored.job.name() != name) {
        bad.push_back({name, "job", absl::StrCat("names \"", stored.job.name(), "\", not the row's name"), data});
      } else if (!v1::JobState_IsValid(static_cast<int>(state)) || state == v1::JOB_STATE_UNSPECIFIED ||
                 state != stored.job.state()) {
        bad.push_back({name, "state",
                       absl::StrCat("state ", state, " is not a job state or disagrees with the job's ",
                                    v1::JobState_Name(stored.job.state())),
                       data});
      } else if (stored.job.attempt() < 1) {
        bad.push_back({name, "job", absl::StrCat("attempt ", stored.job.attempt(), " < 1"), data});
      } else {
        jobs.push_back(std::move(stored));
      }
    }
    if (auto s = select.Done(rc); !s.ok()) return s;
  }
  for (const Bad& row : bad) {
    if (auto s = BadRow("jobs", "name", row.key, row.column, row.why, row.data); !s.ok()) return s;
  }
  return jobs;
}

absl::StatusOr<std::vector<StoredJob>> SqliteStore::SelectJobs(const std::string& where,
                                                                const std::function<void(Statement&)>& bind) {
  const std::string sql = absl::StrCat(
      "SELECT j.seq, j.name, j.request_id, j.job, "
      "(SELECT MAX(e.sequence) FROM events e WHERE e.job = j.name) FROM jobs j ",
      where);
  Statement select(db_, sql.c_str());
  if (auto s = select.status(); !s.ok()) return s;
  bind(select);
  std::vector<StoredJob> jobs;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    StoredJob stored;
    stored.order = select.Int(0);
    const std::string name = select.Blob(1);
    stored.request_id = select.Blob(2);
    stored.last_event = select.Int(4);
    if (!stored.job.ParseFromString(select.Blob(3)) || stored.job.name() != name) {
      return absl::DataLossError(
          absl::StrCat("table jobs, name ", name, ", column job: not a serialized tunefleet.v1.Job of that name"));
    }
    jobs.push_back(std::move(stored));
  }
  if (auto s = select.Done(rc); !s.ok()) return s;
  return jobs;
}

absl::StatusOr<StoredJob> SqliteStore::LoadJob(const std::string& name) {
  auto jobs = SelectJobs("WHERE j.name = ?", [&](Statement& select) { select.BindText(1, name); });
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return std::move(jobs->front());
}

absl::StatusOr<std::vector<StoredJob>> SqliteStore::LoadJobsAfter(int64_t after,
                                                                  const std::vector<v1::JobState>& states,
                                                                  int64_t limit) {
  std::string where = "WHERE j.seq > ?";
  if (!states.empty()) {
    absl::StrAppend(&where, " AND j.state IN (?");
    for (size_t i = 1; i < states.size(); ++i) absl::StrAppend(&where, ", ?");
    absl::StrAppend(&where, ")");
  }
  absl::StrAppend(&where, " ORDER BY j.seq LIMIT ?");
  return SelectJobs(where, [&](Statement& select) {
    int i = 1;
    select.Bind(i++, after);
    for (v1::JobState state : states) select.Bind(i++, static_cast<int64_t>(state));
    select.Bind(i, limit > 0 ? limit : int64_t{-1});
  });
}

absl::Status SqliteStore::DeleteWorker(const std::string& name) {
  Statement remove(db_, "DELETE FROM workers WHERE name = ?");
  if (auto s = remove.status(); !s.ok()) return s;
  remove.BindText(1, name);
  return remove.Run();
}

absl::StatusOr<std::vector<v1::JobEvent>> SqliteStore::LoadEvents(const std::string& job, int64_t after,
                                                                  int64_t limit) {
  Statement select(db_, "SELECT sequence, event FROM events WHERE job = ? AND sequence > ? ORDER BY sequence LIMIT ?");
  if (auto s = select.status(); !s.ok()) return s;
  select.BindText(1, job);
  select.Bind(2, after);
  select.Bind(3, limit > 0 ? limit : int64_t{-1});
  std::vector<v1::JobEvent> events;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    v1::JobEvent event;
    if (!event.ParseFromString(select.Blob(1))) {
      return absl::DataLossError(absl::StrCat("unreadable row (table events, row job=", job,
                                              " sequence=", select.Int(0), ", column event: not a JobEvent)"));
    }
    events.push_back(std::move(event));
  }
  if (auto s = select.Done(rc); !s.ok()) return s;
  return events;
}

absl::StatusOr<std::vector<AttemptRecord>> SqliteStore::LoadAttempts(const std::string& job) {
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
    if (!holder.ParseFromString(select.Blob(6))) {
      return absl::DataLossError(absl::StrCat("unreadable row (table attempts, row job=", job,
                                              " attempt=", a.attempt, ", column placements: not placements)"));
    }
    a.placements.assign(holder.placements().begin(), holder.placements().end());
    attempts.push_back(std::move(a));
  }
  if (auto s = select.Done(rc); !s.ok()) return s;
  return attempts;
}

absl::StatusOr<std::vector<v1::Worker>> SqliteStore::LoadWorkers() {
  struct Bad {
    std::string key, why, data;
  };
  std::vector<v1::Worker> workers;
  std::vector<Bad> bad;
  {
    Statement select(db_, "SELECT name, worker FROM workers ORDER BY name");
    if (auto s = select.status(); !s.ok()) return s;
    int rc;
    while ((rc = select.Step()) == SQLITE_ROW) {
      const std::string name = select.Blob(0);
      const std::string data = select.Blob(1);
      v1::Worker worker;
      if (!worker.ParseFromString(data)) {
        bad.push_back({name, "not a serialized tunefleet.v1.Worker", data});
      } else if (worker.name() != name) {
        bad.push_back({name, absl::StrCat("names \"", worker.name(), "\", not the row's name"), data});
      } else {
        workers.push_back(std::move(worker));
      }
    }
    if (auto s = select.Done(rc); !s.ok()) return s;
  }
  for (const Bad& row : bad) {
    if (auto s = BadRow("workers", "name", row.key, "worker", row.why, row.data); !s.ok()) return s;
  }
  return workers;
}

absl::Status SqliteStore::AppendMetrics(const std::string& job, const std::vector<v1::MetricSample>& samples,
                                        const MetricRetention& keep) {
  if (samples.empty()) return absl::OkStatus();
  // synchronous=NORMAL for this commit only: in WAL mode it is written but
  // not fsynced; the next FULL commit (any state change) syncs it too.
  if (auto s = Exec("PRAGMA synchronous=NORMAL"); !s.ok()) return s;
  absl::Status result = [&]() -> absl::Status {
    Transaction tx(db_);
    if (auto s = tx.status(); !s.ok()) return s;
    bool trim_now = false;
    for (const v1::MetricSample& sample : samples) {
      Statement insert(db_, "INSERT INTO metrics (job, sample) VALUES (?, ?)");
      if (auto s = insert.status(); !s.ok()) return s;
      insert.BindText(1, job);
      insert.Bind(2, sample.SerializeAsString());
      if (auto s = insert.Run(); !s.ok()) return s;
      // Trimming walks the job's index entries, so it runs only when a row
      // id is a multiple of 256: a busy job is trimmed every few hundred
      // samples and holds a little more than `keep` between trims.
      trim_now = trim_now || sqlite3_last_insert_rowid(db_) % 256 == 0;
    }
    if (!trim_now) return tx.Commit();
    // By count, then by bytes (the newest samples whose sizes add up to at
    // most keep.bytes; length() reads a blob's size from its row header).
    for (const auto& [sql, bound] :
         {std::pair{"DELETE FROM metrics WHERE job = ?1 AND id <= "
                    "(SELECT id FROM metrics WHERE job = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                    keep.samples},
          std::pair{"DELETE FROM metrics WHERE job = ?1 AND id <= "
                    "(SELECT id FROM (SELECT id, SUM(length(sample)) OVER (ORDER BY id DESC) AS newer "
                    "FROM metrics WHERE job = ?1) WHERE newer > ?2 ORDER BY id DESC LIMIT 1)",
                    keep.bytes}}) {
      Statement trim(db_, sql);
      if (auto s = trim.status(); !s.ok()) return s;
      trim.BindText(1, job);
      trim.Bind(2, bound > 0 ? bound : int64_t{1});
      if (auto s = trim.Run(); !s.ok()) return s;
    }
    return tx.Commit();
  }();
  if (auto s = Exec("PRAGMA synchronous=FULL"); !s.ok()) return s;  // before any state write
  return result;
}

absl::StatusOr<std::vector<v1::MetricSample>> SqliteStore::LoadMetrics(const std::string& job) {
  Statement select(db_, "SELECT id, sample FROM metrics WHERE job = ? ORDER BY id");
  if (auto s = select.status(); !s.ok()) return s;
  select.BindText(1, job);
  std::vector<v1::MetricSample> samples;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    v1::MetricSample sample;
    if (!sample.ParseFromString(select.Blob(1))) {
      return absl::DataLossError(absl::StrCat("unreadable row (table metrics, row id=", select.Int(0),
                                              ", column sample: not a MetricSample)"));
    }
    samples.push_back(std::move(sample));
  }
  if (auto s = select.Done(rc); !s.ok()) return s;
  return samples;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, SqliteOptions options) {
  auto lock = DatabaseLock::Acquire(path);
  if (!lock.ok()) return lock.status();
  struct stat info {};
  const bool existed = stat(path.c_str(), &info) == 0;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open database ", path, ": ", message));
  }
  auto store = std::make_unique<SqliteStore>(db, std::move(*lock), std::move(options));
  sqlite3_busy_timeout(db, 5000);
  if (auto s = store->CheckAndInit(path, existed); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tunefleet::store
