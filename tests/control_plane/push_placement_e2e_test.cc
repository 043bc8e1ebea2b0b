// Placement reaches a worker on its WatchAssignments stream, not on its next
// heartbeat: with heartbeats a minute apart (and the coordinator's ticks half
// a minute apart), a submitted job's rank starts and the job ends long before
// either could have carried it; the same after the coordinator restarts (the
// worker's stream reconnects); and a worker cannot watch another's stream.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grpcpp/create_channel.h>

#include "common/security/cluster_pki.h"
#include "common/security/tls.h"
#include "tests/control_plane/cluster.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace tunefleet::testing {
namespace {

ClusterOptions SlowHeartbeats() {
  ClusterOptions options;
  options.coordinator_flags = {"--heartbeat-interval", "60", "--worker-timeout", "300", "--tick-interval", "30"};
  options.worker_heartbeat_interval = "60";
  return options;
}

// Far below the heartbeat interval (60 s): only a push gets the job there in time.
constexpr auto kPushDeadline = 20s;

// The worker heartbeats once right after registering; past that one, its next
// is a minute away. Waits for it (it may have come already: then the time
// does not move, and the wait ends at its bound with nothing left to wait for).
void PastTheFirstHeartbeat(Cluster& cluster, const std::string& id) {
  const auto registered = cluster.GetWorker(id).last_heartbeat_time();
  WaitUntil([&] { return cluster.GetWorker(id).last_heartbeat_time().SerializeAsString() !=
                         registered.SerializeAsString(); },
            3s);
}

TEST(PushPlacementE2e, ASubmittedJobsRankStartsWithoutWaitingForAHeartbeat) {
  Cluster cluster(SlowHeartbeats());
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  PastTheFirstHeartbeat(cluster, "w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=1"));
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, kPushDeadline);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << cluster.EventLog(job.name()) << cluster.WorkerLog("w1");
  EXPECT_EQ(job.attempt(), 1);
}

TEST(PushPlacementE2e, TheStreamReconnectsAfterTheCoordinatorRestarts) {
  Cluster cluster(SlowHeartbeats());
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  // It holds its session (the reply reached it) before the coordinator dies.
  ASSERT_TRUE(WaitUntil([&] { return cluster.WorkerLog("w1").find("registered as") != std::string::npos; }, 10s))
      << cluster.WorkerLog("w1");
  PastTheFirstHeartbeat(cluster, "w1");
  const int port = cluster.port();
  cluster.KillCoordinator();
  cluster.StartCoordinator(port);
  // The worker's stream fails, its session is refused by the new coordinator,
  // it registers again and reopens the stream: all without its next heartbeat.
  ASSERT_TRUE(WaitUntil(
      [&] { return cluster.GetWorker("w1").state() == v1::WORKER_STATE_READY &&
                   cluster.WorkerLog("w1").find("registered as") != cluster.WorkerLog("w1").rfind("registered as"); },
      kPushDeadline))
      << cluster.WorkerLog("w1");
  PastTheFirstHeartbeat(cluster, "w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=1"));
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, kPushDeadline);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << cluster.EventLog(job.name()) << cluster.WorkerLog("w1");
}

TEST(PushPlacementE2e, AWorkerCannotWatchAnotherWorkersAssignments) {
  Cluster cluster(SlowHeartbeats());
  cluster.StartCoordinator();
  cluster.StartWorker("victim", 1);
  ASSERT_TRUE(security::EnsureWorkerCertificate(cluster.pki(), "intruder").ok());
  auto credentials = security::ChannelCredentials(security::WorkerFiles(cluster.pki(), "intruder"));
  ASSERT_TRUE(credentials.ok());
  auto stub = v1::WorkerService::NewStub(
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(cluster.port()), *credentials,
                                security::ServerNameArguments(security::kCoordinatorServerName)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::WatchAssignmentsRequest request;
  request.set_worker_id("victim");
  request.set_session("guessed");
  auto reader = stub->WatchAssignments(&context, request);
  v1::WorkerDirective directive;
  EXPECT_FALSE(reader->Read(&directive));
  const grpc::Status status = reader->Finish();
  EXPECT_THAT(status.error_code(), ::testing::AnyOf(grpc::StatusCode::PERMISSION_DENIED,
                                                    grpc::StatusCode::UNAUTHENTICATED))
      << status.error_message();
  // Its own name with a made-up session: refused too.
  grpc::ClientContext own_context;
  own_context.set_deadline(std::chrono::system_clock::now() + 10s);
  request.set_worker_id("intruder");
  auto own = stub->WatchAssignments(&own_context, request);
  EXPECT_FALSE(own->Read(&directive));
  EXPECT_EQ(own->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace tunefleet::testing
