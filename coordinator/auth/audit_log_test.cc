#include "coordinator/auth/audit_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator::auth {
namespace {

v1::AuditEvent Event(const std::string& principal, const std::string& target) {
  v1::AuditEvent event;
  event.set_principal(principal);
  event.set_role("submitter");
  event.set_method("JobService/CreateJob");
  event.set_target(target);
  event.set_code("OK");
  return event;
}

// The rows of audit_events as another connection reads them: what is committed.
int64_t CommittedRows(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // A reader can meet SQLITE_BUSY while the writer checkpoints the WAL.
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_events", -1, &stmt, nullptr), SQLITE_OK);
  int64_t rows = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) rows = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tunefleet::testing::FreshTestDirectory() + "/state.db";
    // WAL, as the Store sets it on the same file.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  std::string path_;
};

TEST_F(AuditLogTest, ConcurrentCallsAreAllCommittedWhenRecordReturns) {
  auto log = AuditLog::Open(path_);
  ASSERT_TRUE(log.ok()) << log.status();
  constexpr int kThreads = 16, kEach = 40;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  std::vector<int64_t> committed_after_first(kThreads, -1);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!(*log)->Record(Event(absl::StrCat("user:u", t), absl::StrCat("jobs/", t, "-", i))).ok()) ++failures[t];
        // Durable on return: another connection already sees it (and the rows before it).
        if (i == 0) committed_after_first[t] = CommittedRows(path_);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << t;
    EXPECT_GE(committed_after_first[t], 1) << t;
  }
  EXPECT_EQ(CommittedRows(path_), kThreads * kEach);
  auto newest = (*log)->Newest(kThreads * kEach + 10);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), static_cast<size_t>(kThreads * kEach));
  std::set<int64_t> ids;
  std::set<std::string> targets;
  for (const v1::AuditEvent& event : *newest) {
    ids.insert(event.id());
    targets.insert(event.target());
    EXPECT_EQ(event.method(), "JobService/CreateJob");
    EXPECT_GT(event.time().seconds(), 0);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(targets.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(newest->front().id(), *ids.rbegin());  // newest first
}

TEST_F(AuditLogTest, RowsOfOneThreadKeepTheirOrder) {
  auto log = AuditLog::Open(path_);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->Record(Event("user:a", absl::StrCat("jobs/", i))).ok());
  auto newest = (*log)->Newest(5);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*newest)[static_cast<size_t>(i)].target(), absl::StrCat("jobs/", 4 - i));
}

TEST_F(AuditLogTest, WaitsForAnotherWriterThenCommits) {
  auto log = AuditLog::Open(path_);
  ASSERT_TRUE(log.ok()) << log.status();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);  // the Store, writing
  absl::Status recorded = absl::UnknownError("not run");
  std::thread writer([&] { recorded = (*log)->Record(Event("user:a", "jobs/x")); });
  EXPECT_EQ(CommittedRows(path_), 0);
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  writer.join();
  sqlite3_close(other);
  EXPECT_TRUE(recorded.ok()) << recorded;
  EXPECT_EQ(CommittedRows(path_), 1);
}

TEST_F(AuditLogTest, AFailedBatchIsAnErrorAndSavesNothing) {
  auto log = AuditLog::Open(path_);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Record(Event("user:a", "jobs/kept")).ok());
  // A trigger that refuses one target: the whole transaction fails.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.target = 'jobs/bad' "
                         "BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);
  const absl::Status refused = (*log)->Record(Event("user:a", "jobs/bad"));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("refused by test"), std::string::npos) << refused;
  EXPECT_EQ(CommittedRows(path_), 1);
  // The connection is usable again (no transaction left open).
  EXPECT_TRUE((*log)->Record(Event("user:a", "jobs/after")).ok());
  EXPECT_EQ(CommittedRows(path_), 2);
}

}  // namespace
}  // namespace tunefleet::coordinator::auth
