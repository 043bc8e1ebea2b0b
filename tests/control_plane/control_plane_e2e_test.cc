// The control plane as an operator and a user meet it: the real coordinator
// and worker binaries on 127.0.0.1 (port 0), a fake trainer, gRPC clients.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <future>

#include <gmock/gmock.h>
#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;

bool HasEventWith(Cluster& cluster, const std::string& job, const std::string& text) {
  for (const auto& event : cluster.Events(job)) {
    if (event.message().find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(ControlPlaneE2e, SubmittedJobIsScheduledRunsAndSucceeds) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  const auto submitted = std::chrono::steady_clock::now();
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=3"));
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_THAT(job.name(), ::testing::StartsWith("jobs/"));
  EXPECT_EQ(job.spec().restart().max_restarts(), 3);  // defaults applied before storing

  cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.state() != v1::JOB_STATE_QUEUED; });
  const auto running = std::chrono::steady_clock::now();
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
  const auto succeeded = std::chrono::steady_clock::now();
  std::cout << "[figure] submit -> placed " << Seconds(running - submitted) << " s, submit -> SUCCEEDED "
            << Seconds(succeeded - submitted) << " s (heartbeat 0.2 s, tick 0.05 s)\n";
  EXPECT_EQ(job.attempt(), 1);
  EXPECT_EQ(job.restarts_used(), 0);
  EXPECT_TRUE(job.has_end_time());

  // Every transition is an event, numbered from 1; the watch ends with the job.
  auto events = cluster.Events(job.name());
  ASSERT_EQ(events.size(), 3u) << cluster.EventLog(job.name());
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), static_cast<int64_t>(i + 1));
  EXPECT_EQ(events[0].state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(events[1].state(), v1::JOB_STATE_RUNNING);
  EXPECT_THAT(events[1].message(), HasSubstr("workers/w1"));
  EXPECT_EQ(events[2].state(), v1::JOB_STATE_SUCCEEDED);

  // Watching from `after` replays only what follows.
  grpc::ClientContext context;
  v1::WatchJobEventsRequest request;
  request.set_name(job.name());
  request.set_after(2);
  auto reader = cluster.jobs().WatchJobEvents(&context, request);
  v1::JobEvent event;
  std::vector<int64_t> sequences;
  while (reader->Read(&event)) sequences.push_back(event.sequence());
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_THAT(sequences, ::testing::ElementsAre(3));

  // The rank's stdout went to its per-rank log.
  const std::string id = job.name().substr(5);
  const std::string log = ReadFile(cluster.WorkerDir("w1") + "/jobs/" + id + "/attempt-1/rank-0.log");
  EXPECT_THAT(log, HasSubstr("step 3/3"));
}

TEST(ControlPlaneE2e, GangSpansWorkersWithRendezvousEnvironment) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("a", 1);
  cluster.StartWorker("b", 1);
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=2", /*world_size=*/2));
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
  const std::string id = job.name().substr(5);
  std::string logs;
  for (const char* worker : {"a", "b"}) {
    for (int rank = 0; rank < 2; ++rank) {
      logs += ReadFile(cluster.WorkerDir(worker) + "/jobs/" + id + "/attempt-1/rank-" + std::to_string(rank) +
                       ".log");
    }
  }
  EXPECT_THAT(logs, HasSubstr("RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1"));
  EXPECT_THAT(logs, HasSubstr("RANK=1 WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1"));
}

TEST(ControlPlaneE2e, CoordinatorKilledAndRestartedKeepsJobsAndRunningAttempts) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  v1::Job running = cluster.Submit(cluster.FakeJob("steps=40,step_ms=50"));
  v1::Job queued = cluster.Submit(cluster.FakeJob("steps=1"));  // waits: one slot
  running = cluster.WaitForJob(running.name(), [](const v1::Job& j) { return j.progress().step() >= 2; });
  ASSERT_EQ(running.state(), v1::JOB_STATE_RUNNING) << cluster.EventLog(running.name());
  const int port = cluster.port();

  cluster.KillCoordinator();
  cluster.StartCoordinator(port);  // same database, same address: the worker finds it again

  EXPECT_EQ(cluster.GetJob(queued.name()).spec().display_name(), "fake:steps=1");
  v1::Job after = cluster.GetJob(running.name());
  EXPECT_EQ(after.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(after.generation(), running.generation());
  // The worker re-registers and re-reports its rank: the attempt goes on, not restarted.
  after = cluster.WaitForState(running.name(), v1::JOB_STATE_SUCCEEDED, 30s);
  EXPECT_EQ(after.attempt(), 1) << cluster.EventLog(running.name());
  cluster.WaitForState(queued.name(), v1::JOB_STATE_SUCCEEDED);
}

TEST(ControlPlaneE2e, LostWorkerIsNoticedAndTheJobResumesOnAnotherWorker) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("doomed", 1);
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=30,step_ms=100"));
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 1; });
  ASSERT_EQ(job.placements(0).worker(), "workers/doomed");
  cluster.StartWorker("spare", 1);

  cluster.KillWorker("doomed");
  const auto killed = std::chrono::steady_clock::now();
  v1::Job requeued = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.attempt() == 2; });
  const auto noticed = std::chrono::steady_clock::now();
  std::cout << "[figure] worker kill -9 -> job requeued " << Seconds(noticed - killed)
            << " s (--worker-timeout 1.5 s, heartbeat 0.2 s)\n";
  EXPECT_EQ(requeued.restarts_used(), 0);  // the infrastructure's failure, not the job's
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "worker lost"));

  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, 30s);
  EXPECT_EQ(job.attempt(), 2);
  EXPECT_EQ(cluster.GetWorker("doomed").state(), v1::WORKER_STATE_LOST);
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "workers/spare"));
}

TEST(ControlPlaneE2e, TrainerFailuresSpendRestartsThenFailWithTheReason) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  auto request = cluster.FakeJob("exit=3");
  request.mutable_spec()->mutable_restart()->set_max_restarts(1);
  v1::Job job = cluster.WaitForState(cluster.Submit(request).name(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(job.attempt(), 2);
  EXPECT_EQ(job.restarts_used(), 2);
  EXPECT_THAT(job.failure_reason(), HasSubstr("exited with code 3"));
  EXPECT_THAT(job.failure_reason(), HasSubstr("max_restarts 1"));

  // A job that fails once and then works: one restart used.
  v1::Job flaky = cluster.WaitForState(cluster.Submit(cluster.FakeJob("fail_attempts=1")).name(),
                                       v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(flaky.attempt(), 2);
  EXPECT_EQ(flaky.restarts_used(), 1);
}

TEST(ControlPlaneE2e, CancelStopsTheTrainerAndFreesItsSlot) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  v1::Job job = cluster.Submit(cluster.FakeJob("hang"));
  cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 1; });
  {
    grpc::ClientContext context;
    v1::CancelJobRequest request;
    request.set_name(job.name());
    v1::Job cancelled;
    ASSERT_TRUE(cluster.jobs().CancelJob(&context, request, &cancelled).ok());
    EXPECT_EQ(cancelled.state(), v1::JOB_STATE_CANCELLED);
  }
  // The slot comes back only once the worker confirms the trainer dead: the next job runs.
  v1::Job next = cluster.WaitForState(cluster.Submit(cluster.FakeJob("steps=1")).name(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(next.attempt(), 1);
  EXPECT_THAT(cluster.WorkerLog("w1"), HasSubstr("-> RANK_PHASE_STOPPED"));
  // Cancelling again is refused: the job has ended.
  grpc::ClientContext context;
  v1::CancelJobRequest request;
  request.set_name(job.name());
  v1::Job again;
  EXPECT_EQ(cluster.jobs().CancelJob(&context, request, &again).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(ControlPlaneE2e, CordonedWorkerGetsNothingUntilUncordoned) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  {
    grpc::ClientContext context;
    v1::CordonWorkerRequest request;
    request.set_name("workers/w1");
    v1::Worker worker;
    ASSERT_TRUE(cluster.admin().CordonWorker(&context, request, &worker).ok());
    EXPECT_EQ(worker.state(), v1::WORKER_STATE_CORDONED);
  }
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=1"));
  // Let several heartbeats and scheduling passes go by: still queued.
  const auto seen = cluster.GetWorker("w1").last_heartbeat_time().nanos();
  int beats = 0;
  int64_t last = seen;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto now = cluster.GetWorker("w1").last_heartbeat_time().nanos();
        if (now != last) ++beats, last = now;
        return beats >= 3;
      },
      10s));
  EXPECT_EQ(cluster.GetJob(job.name()).state(), v1::JOB_STATE_QUEUED);

  grpc::ClientContext context;
  v1::UncordonWorkerRequest request;
  request.set_name("workers/w1");
  v1::Worker worker;
  ASSERT_TRUE(cluster.admin().UncordonWorker(&context, request, &worker).ok());
  cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
}

TEST(ControlPlaneE2e, DrainStopsTheGangAtTheDeadlineAndRequeuesElsewhere) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=20,step_ms=50"));
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 1; });
  cluster.StartWorker("w2", 1);
  {
    grpc::ClientContext context;
    v1::DrainWorkerRequest request;
    request.set_name("workers/w1");
    request.mutable_deadline()->set_nanos(300'000'000);
    v1::Worker worker;
    ASSERT_TRUE(cluster.admin().DrainWorker(&context, request, &worker).ok());
    EXPECT_EQ(worker.state(), v1::WORKER_STATE_DRAINING);
  }
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, 30s);
  EXPECT_EQ(job.attempt(), 2);
  EXPECT_EQ(job.restarts_used(), 0);  // a drain is not the job's failure
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "drained"));
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "workers/w2"));
  EXPECT_TRUE(WaitUntil([&] { return cluster.GetWorker("w1").state() == v1::WORKER_STATE_DRAINED; }, 10s));
  EXPECT_THAT(cluster.WorkerLog("w1"), HasSubstr("SIGTERM (checkpoint, exit 75)"));
}

TEST(ControlPlaneE2e, BadRequestsGetTheirStatusCodes) {
  Cluster cluster;
  cluster.StartCoordinator();
  {
    auto request = cluster.FakeJob("steps=1");
    request.mutable_spec()->mutable_model()->clear_path();
    grpc::ClientContext context;
    v1::Job job;
    const grpc::Status status = cluster.jobs().CreateJob(&context, request, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("model.path"));
  }
  {
    auto request = cluster.FakeJob("steps=1");
    request.set_job_id("Not_Valid");
    grpc::ClientContext context;
    v1::Job job;
    const grpc::Status status = cluster.jobs().CreateJob(&context, request, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("job_id"));
  }
  {
    grpc::ClientContext context;
    v1::GetJobRequest request;
    request.set_name("jobs/nope");
    v1::Job job;
    EXPECT_EQ(cluster.jobs().GetJob(&context, request, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::CancelJobRequest request;
    request.set_name("jobs/nope");
    v1::Job job;
    EXPECT_EQ(cluster.jobs().CancelJob(&context, request, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::GetJobRequest request;
    request.set_name("nope");
    v1::Job job;
    EXPECT_EQ(cluster.jobs().GetJob(&context, request, &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    v1::GetWorkerRequest request;
    request.set_name("workers/nope");
    v1::Worker worker;
    EXPECT_EQ(cluster.admin().GetWorker(&context, request, &worker).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::DrainWorkerRequest request;
    request.set_name("workers/nope");
    v1::Worker worker;
    EXPECT_EQ(cluster.admin().DrainWorker(&context, request, &worker).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    v1::WatchJobEventsRequest request;
    request.set_name("jobs/nope");
    auto reader = cluster.jobs().WatchJobEvents(&context, request);
    v1::JobEvent event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

TEST(ControlPlaneE2e, ServesTheStandardHealthCheck) {
  Cluster cluster;
  cluster.StartCoordinator();
  // grpc.health.v1.Health/Check with an empty request; SERVING is field 1 = 1.
  grpc::GenericStub stub(cluster.channel());
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status status) { done.set_value(status); });
  const grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST(ControlPlaneE2e, ListPagesAndRetriedCreateIsIdempotent) {
  Cluster cluster;
  cluster.StartCoordinator();
  auto request = cluster.FakeJob("steps=1");
  request.set_request_id("retry-me");
  const v1::Job first = cluster.Submit(request);
  const v1::Job again = cluster.Submit(request);
  EXPECT_EQ(first.name(), again.name());
  for (int i = 0; i < 4; ++i) cluster.Submit(cluster.FakeJob("steps=1"));

  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListJobsRequest list;
    list.set_page_size(2);
    list.set_page_token(token);
    v1::ListJobsResponse response;
    ASSERT_TRUE(cluster.jobs().ListJobs(&context, list, &response).ok());
    for (const auto& job : response.jobs()) names.push_back(job.name());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.front(), first.name());  // submission order
}

}  // namespace
}  // namespace tunefleet::testing
