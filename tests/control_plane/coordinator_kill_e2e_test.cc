// kill -9 of the coordinator at random points while clients submit and
// cancel jobs and a worker runs them (placements and completions writing
// too), scripted and seeded. After each kill the database is checked as the
// next coordinator will read it: every acknowledged submission exists exactly
// once, and every job's events run 1, 2, 3... through edges of the state
// machine and end in the state its row says. Then a coordinator restarts on
// it, clients retry what was not acknowledged (same request_id), and the
// burst goes on (issue 16, item 7).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <iostream>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/jobs/job_lifecycle.h"
#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

constexpr int kIterations = 50;
constexpr int kClients = 4;

struct StoredJobRow {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  std::vector<v1::JobEvent> events;
};

// Every job row and its events, read from the database file directly.
std::map<std::string, StoredJobRow> ReadDatabase(const std::string& path) {
  std::map<std::string, StoredJobRow> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT name, state FROM jobs", -1, &stmt, nullptr), SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    EXPECT_EQ(rows.count(name), 0u) << name << " stored twice";
    rows[name].state = static_cast<v1::JobState>(sqlite3_column_int(stmt, 1));
  }
  sqlite3_finalize(stmt);
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT job, event FROM events ORDER BY job, sequence", -1, &stmt, nullptr),
            SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    v1::JobEvent event;
    EXPECT_TRUE(event.ParseFromArray(sqlite3_column_blob(stmt, 1), sqlite3_column_bytes(stmt, 1)));
    rows[name].events.push_back(event);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

// The job's history is one the state machine allows and its row agrees.
void ExpectConsistent(const std::string& name, const StoredJobRow& row) {
  ASSERT_FALSE(row.events.empty()) << name << ": a job without its submission event";
  EXPECT_EQ(row.events.front().state(), v1::JOB_STATE_QUEUED) << name;
  for (size_t i = 0; i < row.events.size(); ++i) {
    EXPECT_EQ(row.events[i].sequence(), static_cast<int64_t>(i + 1)) << name << ": events not contiguous";
    if (i > 0 && row.events[i].state() != row.events[i - 1].state()) {
      EXPECT_TRUE(jobs::CheckTransition(row.events[i - 1].state(), row.events[i].state()).ok())
          << name << ": " << v1::JobState_Name(row.events[i - 1].state()) << " -> "
          << v1::JobState_Name(row.events[i].state());
    }
  }
  EXPECT_EQ(row.state, row.events.back().state()) << name << ": the row and its last event disagree";
}

TEST(CoordinatorKill, EveryAcknowledgedSubmissionSurvivesKill9ExactlyOnceWithAConsistentHistory) {
  ClusterOptions options;
  // One user (admin) submits every job, thousands over the 50 kills: past the default quota.
  options.coordinator_flags.insert(options.coordinator_flags.end(), {"--max-active-jobs-per-user", "0"});
  Cluster cluster(options);
  cluster.StartCoordinator();
  const int port = cluster.port();
  cluster.StartWorker("w1", 4);

  std::mutex mu;
  std::set<std::string> acknowledged;  // job names the coordinator said OK to
  std::set<std::string> pending;       // submitted, never acknowledged: retried after the restart
  int next = 0;
  std::mt19937 rng(16);
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        std::mt19937 local(static_cast<uint32_t>(iteration * 131 + c));
        while (!stop) {
          std::string id;
          {
            std::lock_guard<std::mutex> lock(mu);
            id = "k" + std::to_string(next++);
            pending.insert("jobs/" + id);
          }
          v1::CreateJobRequest request = cluster.FakeJob("steps=1,step_ms=1");
          request.set_job_id(id);
          request.set_request_id(id);
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + 2s);
          v1::Job job;
          if (!cluster.jobs().CreateJob(&context, request, &job).ok()) return;  // the coordinator is gone
          {
            std::lock_guard<std::mutex> lock(mu);
            acknowledged.insert(job.name());
            pending.erase(job.name());
          }
          if (local() % 7 == 0) {  // a cancel too, acknowledged or not
            grpc::ClientContext cancel_context;
            cancel_context.set_deadline(std::chrono::system_clock::now() + 2s);
            v1::CancelJobRequest cancel;
            cancel.set_name(job.name());
            v1::Job cancelled;
            (void)cluster.jobs().CancelJob(&cancel_context, cancel, &cancelled);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 300));
    cluster.KillCoordinator();
    stop = true;
    for (auto& client : clients) client.join();

    // What the next coordinator will read.
    const auto rows = ReadDatabase(cluster.dir() + "/state.db");
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const std::string& name : acknowledged) {
        EXPECT_EQ(rows.count(name), 1u) << "iteration " << iteration << ": acknowledged " << name << " is lost";
      }
    }
    for (const auto& [name, row] : rows) ExpectConsistent(name, row);
    if (::testing::Test::HasFailure()) break;

    // A new coordinator; clients retry what they never heard back about.
    cluster.StartCoordinator(port);
    std::set<std::string> retry;
    {
      std::lock_guard<std::mutex> lock(mu);
      retry.swap(pending);
    }
    for (const std::string& name : retry) {
      v1::CreateJobRequest request = cluster.FakeJob("steps=1,step_ms=1");
      request.set_job_id(name.substr(5));
      request.set_request_id(name.substr(5));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      context.set_wait_for_ready(true);
      v1::Job job;
      const grpc::Status status = cluster.jobs().CreateJob(&context, request, &job);
      ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
      std::lock_guard<std::mutex> lock(mu);
      acknowledged.insert(job.name());
    }
  }

  // Once more through the coordinator: every acknowledged job, once.
  std::set<std::string> listed;
  std::string token;
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    context.set_wait_for_ready(true);
    v1::ListJobsRequest request;
    request.set_page_size(1000);
    request.set_page_token(token);
    v1::ListJobsResponse response;
    ASSERT_TRUE(cluster.jobs().ListJobs(&context, request, &response).ok());
    for (const v1::Job& job : response.jobs()) EXPECT_TRUE(listed.insert(job.name()).second) << job.name();
    token = response.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(listed, acknowledged);
  std::cout << "coordinator killed " << kIterations << " times; " << acknowledged.size()
            << " submissions acknowledged, all present once" << std::endl;
}

}  // namespace
}  // namespace tunefleet::testing
