// The coordinator's memory and threads stay bounded against a hostile caller,
// measured on the real binary (/proc/<pid>/status): a registered worker
// flooding metric samples (oversized ones refused, the largest allowed ones
// past every rate limit), and one user opening hundreds of watch streams.
// The bounds asserted are the ones docs/security.md documents.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "common/metric_sample_limits.h"
#include "common/security/cluster_pki.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"
#include "tests/control_plane/cluster.h"
#include "tests/testing/http_get.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace tunefleet::testing {
namespace {

// A field of /proc/<pid>/status ("VmRSS" in kB, "Threads"); -1 when unreadable.
int64_t ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::string digits;
    for (char c : line.substr(field.size() + 1)) {
      if (c >= '0' && c <= '9') digits += c;
    }
    int64_t value = 0;
    return absl::SimpleAtoi(digits, &value) ? value : -1;
  }
  return -1;
}

// The value of an unlabelled series on the coordinator's /metrics; -1 if absent.
double Scrape(const Cluster& cluster, const std::string& series) {
  const std::string text = HttpGetLocal(std::stoi(ReadFile(cluster.dir() + "/coordinator.metrics-port")));
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

std::chrono::system_clock::time_point In(std::chrono::seconds s) { return std::chrono::system_clock::now() + s; }

// The forged worker sends no heartbeats: a long timeout keeps it (and the
// job placed on it) alive through the flood.
ClusterOptions Options() {
  ClusterOptions options;
  options.coordinator_flags = {"--heartbeat-interval", "0.2", "--worker-timeout", "600", "--tick-interval", "0.05"};
  return options;
}

class ResourceBounds : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = *security::AddUserToken(cluster_.pki(), "alice", "submitter");
    cluster_.StartCoordinator();
  }
  Cluster cluster_{Options()};
  std::string alice_;
};

// 1 MB samples were the earlier flood (3,000 grew the coordinator to 3 GB):
// now refused. The largest allowed samples, sent as "checkpoint" events (which
// no rate limit drops), are then bounded by the metric history's byte budget.
TEST_F(ResourceBounds, AMetricFloodFromARegisteredWorkerLeavesTheCoordinatorsMemoryBounded) {
  ASSERT_TRUE(security::EnsureWorkerCertificate(cluster_.pki(), "evil").ok());
  auto credentials = security::ChannelCredentials(security::WorkerFiles(cluster_.pki(), "evil"));
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  auto worker = v1::WorkerService::NewStub(
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(cluster_.port()), *credentials,
                                security::ServerNameArguments(security::kCoordinatorServerName)));
  v1::RegisterWorkerResponse registered;
  {
    grpc::ClientContext context;
    context.set_deadline(In(std::chrono::seconds(5)));
    v1::RegisterWorkerRequest request;
    request.set_worker_id("evil");
    request.mutable_resources()->set_cpu_slots(1);
    ASSERT_TRUE(worker->RegisterWorker(&context, request, &registered).ok());
  }
  // The only worker: the job is placed on it, and its rank may report.
  const v1::Job job = cluster_.WaitForState(cluster_.Submit(cluster_.FakeJob("hang")).name(), v1::JOB_STATE_RUNNING);
  const pid_t pid = cluster_.CoordinatorPid();
  const int64_t before_kb = ProcStatus(pid, "VmRSS");
  ASSERT_GT(before_kb, 0);

  auto report = [&](int count, size_t padding, const std::string& event, int64_t* step) {
    v1::ReportMetricsRequest request;
    request.set_worker_id("evil");
    request.set_session(registered.session());
    request.set_generation(job.generation());
    for (int i = 0; i < count; ++i) {
      v1::MetricSample* sample = request.add_samples();
      sample->set_job(job.name());
      sample->set_step(++*step);
      sample->set_event(event);
      (*sample->mutable_text())["pad"] = std::string(padding, 'x');
    }
    grpc::ClientContext context;
    context.set_deadline(In(std::chrono::seconds(30)));
    v1::ReportMetricsResponse response;
    return worker->ReportMetrics(&context, request, &response);
  };
  int64_t step = 0;
  for (int i = 0; i < 300; ++i) {  // 1 MB samples, three to a report: 900 MB offered
    const grpc::Status status = report(3, 1 << 20, "step", &step);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    ASSERT_NE(status.error_message().find("kMaxSampleBytes"), std::string::npos) << status.error_message();
  }
  // The largest allowed: 200 reports of 200 samples near 8 KiB (one 1.6 MiB message each): 320 MiB offered.
  const size_t padding = metric_sample_limits::kMaxTextBytes - 64;
  for (int i = 0; i < 200; ++i) {
    const grpc::Status status = report(200, padding, "checkpoint", &step);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // And as "step" events, which past the rank's rate are dropped and counted.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(report(200, padding, "step", &step).ok());
  const int64_t after_kb = ProcStatus(pid, "VmRSS");
  std::printf("coordinator VmRSS: %lld kB before, %lld kB after the flood\n", static_cast<long long>(before_kb),
              static_cast<long long>(after_kb));
  // The job's history holds at most --metrics-history-job-bytes (16 MiB); the
  // rest is the allocator's retained arenas and SQLite's page cache.
  EXPECT_LT(after_kb - before_kb, 128 * 1024) << "coordinator grew past the documented 128 MiB";
  EXPECT_LE(Scrape(cluster_, "tunefleet_metric_history_bytes"), 16 * 1024 * 1024);
  EXPECT_GE(Scrape(cluster_, "tunefleet_metric_samples_dropped_total"), 3000);
  EXPECT_EQ(cluster_.GetJob(job.name()).state(), v1::JOB_STATE_RUNNING);
  // And on disk: the job's rows are cut to the same 16 MiB (CI's disk once
  // filled when they were bounded by count alone: 10,000 x 8 KiB).
  auto size_of = [](const std::string& path) {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(path, error);
    return error ? uintmax_t{0} : bytes;
  };
  const std::string database = cluster_.dir() + "/state.db";
  const uintmax_t on_disk = size_of(database) + size_of(database + "-wal");
  std::printf("coordinator database: %ju bytes after the flood\n", on_disk);
  EXPECT_LT(on_disk, uintmax_t{64} << 20) << "352 MiB offered; one job's history is bounded by 16 MiB";
}

TEST_F(ResourceBounds, OneUsersThreeHundredWatchStreamsAreCappedAndTheirThreadsReturn) {
  const v1::Job job = cluster_.Submit(cluster_.FakeJob("hang"));  // stays QUEUED: no worker
  const pid_t pid = cluster_.CoordinatorPid();
  const int64_t threads_before = ProcStatus(pid, "Threads");
  auto stub = v1::JobService::NewStub(cluster_.Channel(alice_));
  constexpr int kStreams = 300;
  constexpr int kPerUser = 32;  // --max-streams-per-user's default
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::JobEvent>>> streams;
  int open = 0, refused = 0;
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(In(std::chrono::seconds(60)));
    v1::WatchJobEventsRequest request;
    request.set_name(job.name());
    streams.push_back(stub->WatchJobEvents(contexts.back().get(), request));
    v1::JobEvent event;
    if (streams.back()->Read(&event)) {  // served: the job's first event comes at once
      ++open;
      continue;
    }
    const grpc::Status status = streams.back()->Finish();
    ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    ASSERT_NE(status.error_message().find("--max-streams-per-user"), std::string::npos) << status.error_message();
    ++refused;
  }
  EXPECT_EQ(open, kPerUser);
  EXPECT_EQ(refused, kStreams - kPerUser);
  const int64_t threads_open = ProcStatus(pid, "Threads");
  std::printf("coordinator threads: %lld before, %lld with %d streams open\n", static_cast<long long>(threads_before),
              static_cast<long long>(threads_open), open);
  EXPECT_LE(threads_open, threads_before + kPerUser + 16);
  // The clients go; each stream notices within its wait and frees its thread.
  for (auto& context : contexts) context->TryCancel();
  for (size_t i = 0; i < streams.size(); ++i) streams[i].reset();
  EXPECT_TRUE(WaitUntil([&] { return ProcStatus(pid, "Threads") <= threads_before + 8; }, 30s))
      << ProcStatus(pid, "Threads") << " threads, " << threads_before << " before";
  // And the user may watch again.
  grpc::ClientContext context;
  context.set_deadline(In(std::chrono::seconds(10)));
  v1::WatchJobEventsRequest request;
  request.set_name(job.name());
  auto again = stub->WatchJobEvents(&context, request);
  v1::JobEvent event;
  EXPECT_TRUE(again->Read(&event));
  context.TryCancel();
}

}  // namespace
}  // namespace tunefleet::testing
