#include "coordinator/store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/testing/child_process.h"

namespace tunefleet::store {
namespace {

using ::testing::HasSubstr;

// Runs `sql` on the database file behind the store's back (no lock taken).
void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

v1::Job MakeJob(const std::string& name, v1::JobState state) {
  v1::Job job;
  job.set_name(name);
  job.set_state(state);
  job.mutable_spec()->set_display_name(name + "-display");
  job.set_attempt(1);
  return job;
}

v1::JobEvent Event(const std::string& job, int64_t sequence, const std::string& message) {
  v1::JobEvent event;
  event.set_job(job);
  event.set_sequence(sequence);
  event.set_message(message);
  return event;
}

class StoreTest : public ::testing::Test {
 protected:
  std::string path_ = tunefleet::testing::FreshTestDirectory() + "/state.db";
};

TEST_F(StoreTest, JobsEventsAttemptsAndWorkersSurviveReopen) {
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    auto a = (*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "req-1", {Event("jobs/a", 1, "queued")});
    auto b = (*store)->InsertJob(MakeJob("jobs/b", v1::JOB_STATE_QUEUED), "", {Event("jobs/b", 1, "queued")});
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_LT(*a, *b);

    v1::Job running = MakeJob("jobs/a", v1::JOB_STATE_RUNNING);
    running.set_generation(7);
    AttemptRecord attempt;
    attempt.job = "jobs/a";
    attempt.attempt = 1;
    attempt.generation = 7;
    attempt.placements.emplace_back();
    attempt.placements.back().set_worker("workers/w1");
    ASSERT_TRUE((*store)->UpdateJob(running, {Event("jobs/a", 2, "placed")}, attempt).ok());

    v1::Worker worker;
    worker.set_name("workers/w1");
    worker.set_state(v1::WORKER_STATE_CORDONED);
    ASSERT_TRUE((*store)->PutWorker(worker).ok());
  }  // closed, as after a restart

  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto jobs = (*store)->LoadJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].job.name(), "jobs/a");
  EXPECT_EQ((*jobs)[0].job.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ((*jobs)[0].job.generation(), 7);
  EXPECT_EQ((*jobs)[0].request_id, "req-1");
  EXPECT_EQ((*jobs)[1].job.spec().display_name(), "jobs/b-display");

  auto events = (*store)->LoadEvents("jobs/a", 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].message(), "placed");
  auto after = (*store)->LoadEvents("jobs/a", 1);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);

  auto attempts = (*store)->LoadAttempts("jobs/a");
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  EXPECT_EQ((*attempts)[0].generation, 7);
  ASSERT_EQ((*attempts)[0].placements.size(), 1u);
  EXPECT_EQ((*attempts)[0].placements[0].worker(), "workers/w1");

  auto workers = (*store)->LoadWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].state(), v1::WORKER_STATE_CORDONED);
}

TEST_F(StoreTest, DuplicateJobNameIsAlreadyExistsAndWritesNothing) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "", {Event("jobs/a", 1, "x")}).ok());
  auto again = (*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "", {Event("jobs/a", 2, "y")});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*store)->LoadEvents("jobs/a", 0)->size(), 1u);  // the failed insert rolled back
}

// The write statements are prepared once and kept: each use starts from
// fresh bindings, one that failed (a taken name mid-batch) leaves none bound
// or open for the next, and a schema change made by another connection (an
// index added by hand) does not stale them.
TEST_F(StoreTest, KeptWriteStatementsAreReusedAcrossBatchesFailuresAndSchemaChanges) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  std::vector<NewJob> first;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "jobs/k" + std::to_string(i);
    first.push_back({MakeJob(name, v1::JOB_STATE_QUEUED), i == 1 ? "req-1" : "", {Event(name, 1, "q" + std::to_string(i))}});
  }
  auto orders = (*store)->InsertJobs(first);
  ASSERT_TRUE(orders.ok()) << orders.status();
  ASSERT_EQ(orders->size(), 3u);
  EXPECT_LT((*orders)[0], (*orders)[1]);
  EXPECT_LT((*orders)[1], (*orders)[2]);

  // A batch whose second row takes a name in use: none of it is saved.
  auto clash = (*store)->InsertJobs({{MakeJob("jobs/k3", v1::JOB_STATE_QUEUED), "", {Event("jobs/k3", 1, "x")}},
                                     {MakeJob("jobs/k0", v1::JOB_STATE_QUEUED), "", {Event("jobs/k0", 2, "x")}}});
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*store)->LoadJob("jobs/k3").status().code(), absl::StatusCode::kNotFound);

  Sql(path_, "CREATE INDEX jobs_by_state ON jobs (state)");
  auto next = (*store)->InsertJob(MakeJob("jobs/k3", v1::JOB_STATE_QUEUED), "", {Event("jobs/k3", 1, "q3")});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(*next, (*orders)[2]);
  ASSERT_TRUE((*store)->UpdateJob(MakeJob("jobs/k0", v1::JOB_STATE_RUNNING), {Event("jobs/k0", 2, "r0")}).ok());
  EXPECT_EQ((*store)->UpdateJob(MakeJob("jobs/none", v1::JOB_STATE_RUNNING), {}).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*store)->UpdateJob(MakeJob("jobs/k2", v1::JOB_STATE_RUNNING), {Event("jobs/k2", 2, "r2")}).ok());

  auto all = (*store)->LoadJobs();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  const v1::JobState want[] = {v1::JOB_STATE_RUNNING, v1::JOB_STATE_QUEUED, v1::JOB_STATE_RUNNING,
                               v1::JOB_STATE_QUEUED};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*all)[i].job.name(), "jobs/k" + std::to_string(i));
    EXPECT_EQ((*all)[i].job.state(), want[i]) << i;
    EXPECT_EQ((*all)[i].request_id, i == 1 ? "req-1" : "") << i;  // bindings do not leak between rows
  }
  auto events = (*store)->LoadEvents("jobs/k0", 0);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].message(), "q0");
  EXPECT_EQ((*events)[1].message(), "r0");
  EXPECT_EQ((*store)->LoadEvents("jobs/k3", 0)->front().message(), "q3");
}

TEST_F(StoreTest, OneJobAndPagesOfJobsInSubmissionOrderFilteredByState) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  const v1::JobState states[] = {v1::JOB_STATE_SUCCEEDED, v1::JOB_STATE_QUEUED, v1::JOB_STATE_SUCCEEDED,
                                 v1::JOB_STATE_FAILED, v1::JOB_STATE_SUCCEEDED};
  std::vector<int64_t> orders;
  for (int i = 0; i < 5; ++i) {
    const std::string name = "jobs/j" + std::to_string(i);
    auto order = (*store)->InsertJob(MakeJob(name, states[i]), "req-" + std::to_string(i),
                                     {Event(name, 1, "a"), Event(name, 2, "b")});
    ASSERT_TRUE(order.ok()) << order.status();
    orders.push_back(*order);
  }
  auto one = (*store)->LoadJob("jobs/j3");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->job.state(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(one->order, orders[3]);
  EXPECT_EQ(one->request_id, "req-3");
  EXPECT_EQ(one->last_event, 2);
  EXPECT_EQ((*store)->LoadJob("jobs/none").status().code(), absl::StatusCode::kNotFound);

  auto page = (*store)->LoadJobsAfter(orders[0], {}, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].job.name(), "jobs/j1");
  EXPECT_EQ((*page)[1].job.name(), "jobs/j2");
  auto succeeded = (*store)->LoadJobsAfter(0, {v1::JOB_STATE_SUCCEEDED, v1::JOB_STATE_FAILED}, 0);
  ASSERT_TRUE(succeeded.ok()) << succeeded.status();
  std::vector<std::string> names;
  for (const auto& row : *succeeded) names.push_back(row.job.name());
  EXPECT_THAT(names, ::testing::ElementsAre("jobs/j0", "jobs/j2", "jobs/j3", "jobs/j4"));
}

TEST_F(StoreTest, ADeletedWorkerIsNotLoadedAgain) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  v1::Worker worker;
  worker.set_name("workers/a");
  ASSERT_TRUE((*store)->PutWorker(worker).ok());
  worker.set_name("workers/b");
  ASSERT_TRUE((*store)->PutWorker(worker).ok());
  ASSERT_TRUE((*store)->DeleteWorker("workers/a").ok());
  auto workers = (*store)->LoadWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].name(), "workers/b");
}

// A job's metric rows stay within both bounds whatever a worker sends: the
// newest are kept, another job's rows are untouched, and the file stops
// growing once freed pages are reused.
TEST_F(StoreTest, MetricHistoryOnDiskKeepsTheNewestWithinItsCountAndBytes) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto samples = [](int64_t first, int count, size_t padding) {
    std::vector<v1::MetricSample> batch;
    for (int i = 0; i < count; ++i) {
      v1::MetricSample sample;
      sample.set_step(first + i);
      (*sample.mutable_text())["pad"] = std::string(padding, 'x');
      batch.push_back(sample);
    }
    return batch;
  };
  ASSERT_TRUE((*store)->AppendMetrics("jobs/other", samples(1, 10, 8), MetricRetention{}).ok());
  // By count: 3,000 small samples, 1,000 kept (plus at most one trim's worth).
  const MetricRetention by_count{1000, 1 << 30};
  for (int64_t step = 1; step <= 3000; step += 100) {
    ASSERT_TRUE((*store)->AppendMetrics("jobs/a", samples(step, 100, 8), by_count).ok());
  }
  auto kept = (*store)->LoadMetrics("jobs/a");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_GE(kept->size(), 1000u);
  EXPECT_LE(kept->size(), 1000u + 256u);
  EXPECT_EQ(kept->back().step(), 3000);
  // By bytes: 64 MiB of 8 KiB samples, 1 MiB kept.
  const MetricRetention by_bytes{1000000, 1 << 20};
  const size_t padding = 8 * 1024;
  for (int64_t step = 1; step <= 8192; step += 128) {
    ASSERT_TRUE((*store)->AppendMetrics("jobs/b", samples(step, 128, padding), by_bytes).ok());
  }
  kept = (*store)->LoadMetrics("jobs/b");
  ASSERT_TRUE(kept.ok()) << kept.status();
  size_t bytes = 0;
  for (const v1::MetricSample& sample : *kept) bytes += sample.ByteSizeLong();
  EXPECT_LE(bytes, (1u << 20) + 256u * (padding + 64)) << kept->size() << " samples kept";
  EXPECT_GE(bytes, (1u << 20) - 2 * (padding + 64));
  EXPECT_EQ(kept->back().step(), 8192);
  EXPECT_EQ(kept->front().step(), 8192 - static_cast<int64_t>(kept->size()) + 1);  // the newest, no gaps
  kept = (*store)->LoadMetrics("jobs/other");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 10u);
  store->reset();
  auto size_of = [](const std::string& path) {
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    return error ? uintmax_t{0} : size;
  };
  const uintmax_t file_bytes = size_of(path_) + size_of(path_ + "-wal");
  EXPECT_LT(file_bytes, 16u << 20) << "64 MiB offered; the database and its WAL should hold a few MiB";
}

TEST_F(StoreTest, UpdatingAnUnknownJobIsNotFound) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->UpdateJob(MakeJob("jobs/nope", v1::JOB_STATE_QUEUED), {}).code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, UnopenablePathIsAnError) {
  auto store = OpenSqliteStore("/nonexistent-dir/x/state.db");
  EXPECT_FALSE(store.ok());
}

TEST_F(StoreTest, OneWriterASecondOpenIsRefusedNamingTheHolderUntilTheFirstCloses) {
  auto first = OpenSqliteStore(path_);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = OpenSqliteStore(path_);
  ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another coordinator"));
  EXPECT_THAT(second.status().message(), HasSubstr("pid " + std::to_string(getpid())));
  first->reset();
  EXPECT_TRUE(OpenSqliteStore(path_).ok());
}

TEST_F(StoreTest, AZeroLengthFileIsRefusedUnlessInitAndAMissingOneIsCreated) {
  std::ofstream(path_).close();
  auto refused = OpenSqliteStore(path_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.status().message(), HasSubstr("--init"));
  SqliteOptions init;
  init.init = true;
  auto created = OpenSqliteStore(path_, init);
  ASSERT_TRUE(created.ok()) << created.status();
  created->reset();
  EXPECT_TRUE(OpenSqliteStore(path_).ok()) << "initialized: ours from now on";

  const std::string missing = tunefleet::testing::FreshTestDirectory() + "/new.db";
  EXPECT_TRUE(OpenSqliteStore(missing).ok());
}

TEST_F(StoreTest, AForeignFileIsRefusedEvenWithInit) {
  SqliteOptions init;
  init.init = true;
  std::ofstream(path_) << "not a database at all, just some text that is long enough to be read\n";
  auto text = OpenSqliteStore(path_, init);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kDataLoss) << text.status();
  EXPECT_THAT(text.status().message(), HasSubstr("not a tunefleet database"));

  const std::string other = tunefleet::testing::FreshTestDirectory() + "/other.db";
  Sql(other, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)");
  auto foreign = OpenSqliteStore(other, init);
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kDataLoss) << foreign.status();
  EXPECT_THAT(foreign.status().message(), HasSubstr("another application's tables"));
}

TEST_F(StoreTest, ABadJobRowIsNamedAndRefusedOrQuarantined) {
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->InsertJob(MakeJob("jobs/good", v1::JOB_STATE_QUEUED), "", {}).ok());
    ASSERT_TRUE((*store)->InsertJob(MakeJob("jobs/bad", v1::JOB_STATE_QUEUED), "", {}).ok());
  }
  Sql(path_, "UPDATE jobs SET job = x'ffffffff0102' WHERE name = 'jobs/bad'");
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok());
    auto jobs = (*store)->LoadJobs();
    ASSERT_EQ(jobs.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(jobs.status().message(), HasSubstr("table jobs, row name=jobs/bad, column job"));
    EXPECT_THAT(jobs.status().message(), HasSubstr("not a serialized tunefleet.v1.Job"));
  }
  std::vector<std::string> logged;
  SqliteOptions quarantine;
  quarantine.bad_rows = BadRowPolicy::kQuarantine;
  quarantine.log = [&](const std::string& message) { logged.push_back(message); };
  {
    auto store = OpenSqliteStore(path_, quarantine);
    ASSERT_TRUE(store.ok());
    auto jobs = (*store)->LoadJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 1u);
    EXPECT_EQ((*jobs)[0].job.name(), "jobs/good");
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_THAT(logged[0], HasSubstr("QUARANTINED"));
    EXPECT_THAT(logged[0], HasSubstr("jobs/bad"));
  }
  // Kept, not dropped: the row waits in the quarantine table.
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->LoadJobs()->size(), 1u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT row_key, column_name FROM quarantine", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "jobs/bad");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StoreTest, EventsArePagedAndTheNewestSequenceComesWithTheJob) {
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  std::vector<v1::JobEvent> events;
  for (int i = 1; i <= 5; ++i) events.push_back(Event("jobs/a", i, "e" + std::to_string(i)));
  ASSERT_TRUE((*store)->InsertJob(MakeJob("jobs/a", v1::JOB_STATE_QUEUED), "", events).ok());
  auto page = (*store)->LoadEvents("jobs/a", 1, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].sequence(), 2);
  EXPECT_EQ((*page)[1].sequence(), 3);
  EXPECT_EQ((*store)->LoadJobs()->at(0).last_event, 5);
}

TEST_F(StoreTest, ASweepAndItsJobsAreInsertedTogetherOrNotAtAll) {
  v1::Sweep sweep;
  sweep.set_name("sweeps/s");
  sweep.set_owner("alice");
  sweep.add_points()->set_job("jobs/s-0");
  sweep.add_points()->set_job("jobs/s-1");
  {
    auto store = OpenSqliteStore(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->InsertJob(MakeJob("jobs/s-1", v1::JOB_STATE_QUEUED), "", {}).ok());
    // The second member's name is taken: neither the sweep nor the first member is kept.
    auto refused = (*store)->InsertSweep(sweep, "req-1",
                                         {NewJob{MakeJob("jobs/s-0", v1::JOB_STATE_QUEUED), "", {Event("jobs/s-0", 1, "q")}},
                                          NewJob{MakeJob("jobs/s-1", v1::JOB_STATE_QUEUED), "", {}}});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists) << refused.status();
    EXPECT_TRUE((*store)->LoadSweeps()->empty());
    EXPECT_EQ((*store)->LoadJob("jobs/s-0").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ((*store)->LoadEvents("jobs/s-0", 0)->size(), 0u);

    sweep.mutable_points(1)->set_job("jobs/s-2");
    auto orders = (*store)->InsertSweep(sweep, "req-1",
                                        {NewJob{MakeJob("jobs/s-0", v1::JOB_STATE_QUEUED), "", {}},
                                         NewJob{MakeJob("jobs/s-2", v1::JOB_STATE_QUEUED), "", {}}});
    ASSERT_TRUE(orders.ok()) << orders.status();
    ASSERT_EQ(orders->size(), 2u);
    EXPECT_LT((*orders)[0], (*orders)[1]);
    sweep.set_cancel_requested(true);
    ASSERT_TRUE((*store)->UpdateSweep(sweep).ok());
    v1::Sweep unknown;
    unknown.set_name("sweeps/none");
    EXPECT_EQ((*store)->UpdateSweep(unknown).code(), absl::StatusCode::kNotFound);
  }
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto sweeps = (*store)->LoadSweeps();
  ASSERT_TRUE(sweeps.ok()) << sweeps.status();
  ASSERT_EQ(sweeps->size(), 1u);
  EXPECT_EQ((*sweeps)[0].sweep.SerializeAsString(), sweep.SerializeAsString());
  EXPECT_EQ((*sweeps)[0].request_id, "req-1");
  EXPECT_TRUE((*store)->LoadJob("jobs/s-2").ok());
}

TEST_F(StoreTest, AnUnreadableSweepRowIsNamed) {
  { ASSERT_TRUE(OpenSqliteStore(path_).ok()); }
  Sql(path_, "INSERT INTO sweeps (name, request_id, sweep) VALUES ('sweeps/bad', '', x'ff01')");
  auto store = OpenSqliteStore(path_);
  ASSERT_TRUE(store.ok());
  auto sweeps = (*store)->LoadSweeps();
  EXPECT_EQ(sweeps.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(sweeps.status().message(), HasSubstr("sweeps/bad"));
}

}  // namespace
}  // namespace tunefleet::store
