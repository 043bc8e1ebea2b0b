// The control plane's operations path, end to end with the real binaries on
// 127.0.0.1 and the fake trainer: metrics and logs through the coordinator,
// hung-rank detection, drain with a checkpoint, worker self-drain, /metrics,
// ListCheckpoints, impossible gangs and the rendezvous port.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"
#include "tests/testing/http_get.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;


grpc::Status CancelJob(Cluster& cluster, const std::string& name) {
  grpc::ClientContext context;
  v1::CancelJobRequest request;
  request.set_name(name);
  v1::Job job;
  return cluster.jobs().CancelJob(&context, request, &job);
}

bool HasEventWith(Cluster& cluster, const std::string& job, const std::string& text) {
  for (const auto& event : cluster.Events(job)) {
    if (event.message().find(text) != std::string::npos) return true;
  }
  return false;
}

std::vector<v1::LogEntry> ReadLogs(Cluster& cluster, const std::string& job, int rank, bool follow,
                                   int tail_lines = 0, grpc::Status* status = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::ReadJobLogsRequest request;
  request.set_name(job);
  request.set_rank(rank);
  request.set_follow(follow);
  request.set_tail_lines(tail_lines);
  auto reader = cluster.jobs().ReadJobLogs(&context, request);
  std::vector<v1::LogEntry> entries;
  v1::LogEntry entry;
  while (reader->Read(&entry)) entries.push_back(entry);
  const grpc::Status s = reader->Finish();
  if (status) *status = s;
  else EXPECT_TRUE(s.ok()) << s.error_message();
  return entries;
}

std::string Joined(const std::vector<v1::LogEntry>& entries) {
  std::string text;
  for (const auto& e : entries) text += e.line() + "\n";
  return text;
}

TEST(ControlPlaneOpsE2e, MetricsAndLogsFlowThroughTheCoordinator) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=15,step_ms=40,ckpt_every=5"));
  // Follow the log and the metrics from the start; both end with the job.
  cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; });
  std::vector<v1::LogEntry> followed;
  std::thread follower([&] { followed = ReadLogs(cluster, job.name(), 0, /*follow=*/true); });
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::WatchJobMetricsRequest request;
  request.set_name(job.name());
  auto reader = cluster.jobs().WatchJobMetrics(&context, request);
  std::vector<v1::MetricSample> samples;
  v1::MetricSample sample;
  while (reader->Read(&sample)) samples.push_back(sample);
  ASSERT_TRUE(reader->Finish().ok());
  follower.join();
  job = cluster.GetJob(job.name());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << cluster.EventLog(job.name());
  std::set<int64_t> steps;
  int checkpoints = 0;
  bool done = false;
  for (const auto& s : samples) {
    if (s.event() == "step") steps.insert(s.step());
    if (s.event() == "checkpoint") ++checkpoints;
    if (s.event() == "done") done = true;
  }
  EXPECT_EQ(steps.size(), 15u);
  EXPECT_EQ(checkpoints, 3);
  EXPECT_TRUE(done);
  EXPECT_EQ(job.progress().total_steps(), 15);
  EXPECT_EQ(job.progress().last_checkpoint_step(), 15);
  EXPECT_NEAR(job.progress().train_loss(), 2.0 - 15.0 / 16, 1e-9);
  EXPECT_THAT(Joined(followed), HasSubstr("step 15/15"));
  EXPECT_THAT(Joined(followed), HasSubstr("fake-trainer: done"));

  // History after a step; logs without follow, and the tail.
  grpc::ClientContext again;
  request.set_after_step(12);
  auto history = cluster.jobs().WatchJobMetrics(&again, request);
  int64_t lowest = 1000;
  while (history->Read(&sample)) lowest = std::min(lowest, sample.step());
  EXPECT_TRUE(history->Finish().ok());
  EXPECT_EQ(lowest, 13);
  const auto tail = ReadLogs(cluster, job.name(), 0, false, /*tail_lines=*/1);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_THAT(tail[0].line(), HasSubstr("fake-trainer: done"));
  grpc::Status status;
  ReadLogs(cluster, job.name(), 7, false, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // ListCheckpoints reads the committed manifests, newest first.
  grpc::ClientContext list_context;
  v1::ListCheckpointsRequest list;
  list.set_name(job.name());
  v1::ListCheckpointsResponse listed;
  ASSERT_TRUE(cluster.jobs().ListCheckpoints(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.checkpoints_size(), 3);
  EXPECT_EQ(listed.checkpoints(0).step(), 15);
  EXPECT_EQ(listed.checkpoints(2).step(), 5);
  EXPECT_NEAR(listed.checkpoints(0).train_loss(), 2.0 - 15.0 / 16, 1e-9);
}

// The committed flag across processes: the trainer writes it as a number, the
// worker passes numbers on as values, and the coordinator counts a checkpoint
// only when the flag says committed. A "committed":0 event (files written,
// commit failed) must not become the job's last checkpoint (issue 16).
TEST(ControlPlaneOpsE2e, AnUncommittedCheckpointEventIsNotCountedAsCommitted) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=5,step_ms=40,ckpt_every=2,uncommitted_at=5"));
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.progress().step(), 5) << cluster.EventLog(job.name());
  EXPECT_EQ(job.progress().last_checkpoint_step(), 4) << "step 5's checkpoint event says committed: 0";
}

// A finished job's logs and metrics after a coordinator restart: where its
// ranks ran and its samples are read back from the database (issue 16).
TEST(ControlPlaneOpsE2e, AFinishedJobsLogsAndMetricsAreServedAfterACoordinatorRestart) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=3,step_ms=20"));
  cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
  const int port = cluster.port();
  cluster.KillCoordinator();
  cluster.StartCoordinator(port);
  EXPECT_THAT(Joined(ReadLogs(cluster, job.name(), 0, /*follow=*/false)), HasSubstr("fake-trainer: done"));
  std::vector<v1::JobEvent> events = cluster.Events(job.name());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_SUCCEEDED);
  // Its metric history too: what `tunefleet plot` reads.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  v1::WatchJobMetricsRequest request;
  request.set_name(job.name());
  auto reader = cluster.jobs().WatchJobMetrics(&context, request);
  std::set<int64_t> steps;
  v1::MetricSample sample;
  while (reader->Read(&sample)) {
    if (sample.event() == "step") steps.insert(sample.step());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(steps, (std::set<int64_t>{1, 2, 3}));
}

TEST(ControlPlaneOpsE2e, HungRankIsStoppedAndRequeuedAsAFailure) {
  ClusterOptions options;
  for (const char* flag : {"--hang-floor", "1", "--hang-multiplier", "5", "--hang-startup", "3"}) {
    options.coordinator_flags.push_back(flag);
  }
  Cluster cluster(options);
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=1000,step_ms=20,stall_at=5"));
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 5; });
  const auto stalled = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return HasEventWith(cluster, job.name(), "made no progress"); }, 10s))
      << cluster.EventLog(job.name());
  std::cout << "[figure] hung rank (stalled at step 5, 20 ms steps) noticed after "
            << Seconds(std::chrono::steady_clock::now() - stalled) << " s (--hang-floor 1, heartbeat 0.2 s)\n";
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.attempt() >= 2; });
  EXPECT_EQ(job.restarts_used(), 1);  // a hang counts against max_restarts
}

TEST(ControlPlaneOpsE2e, DrainCheckpointsTheGangAndRequeuesWithoutSpendingARestart) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("a", 1);
  cluster.StartWorker("b", 1);
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=150,step_ms=20"));
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 10; });
  ASSERT_EQ(job.placements_size(), 1);
  const std::string from = job.placements(0).worker();
  grpc::ClientContext context;
  v1::DrainWorkerRequest drain;
  drain.set_name(from);
  drain.mutable_deadline()->set_seconds(30);
  v1::Worker worker;
  const auto drained_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster.admin().DrainWorker(&context, drain, &worker).ok());
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) {
    return j.attempt() == 2 && j.state() == v1::JOB_STATE_RUNNING;
  });
  std::cout << "[figure] drain -> running elsewhere " << Seconds(std::chrono::steady_clock::now() - drained_at)
            << " s\n";
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "every rank checkpointed")) << cluster.EventLog(job.name());
  EXPECT_EQ(job.restarts_used(), 0);
  EXPECT_NE(job.placements(0).worker(), from);
  EXPECT_TRUE(WaitUntil([&] { return cluster.GetWorker(from.substr(8)).state() == v1::WORKER_STATE_DRAINED; }, 10s));
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
  // The new attempt resumed after the drain checkpoint: no step lost before it.
  const std::string log = Joined(ReadLogs(cluster, job.name(), 0, false));
  EXPECT_THAT(log, HasSubstr("fake-trainer: resuming after step"));
}

TEST(ControlPlaneOpsE2e, WorkerSigtermDrainsItselfThenExits) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("a", 1);
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=150,step_ms=20"));
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 5; });
  cluster.StartWorker("b", 1);
  const auto signalled = std::chrono::steady_clock::now();
  cluster.SignalWorker("a", SIGTERM);
  const auto code = cluster.WaitWorker("a", 15s);
  ASSERT_TRUE(code.has_value()) << cluster.WorkerLog("a");
  EXPECT_EQ(*code, 0);
  std::cout << "[figure] worker SIGTERM -> exited " << Seconds(std::chrono::steady_clock::now() - signalled)
            << " s\n";
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) {
    return j.attempt() == 2 && j.state() == v1::JOB_STATE_RUNNING;
  });
  EXPECT_EQ(job.restarts_used(), 0);
  EXPECT_EQ(job.placements(0).worker(), "workers/b");
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "every rank checkpointed")) << cluster.EventLog(job.name());
}

TEST(ControlPlaneOpsE2e, MetricsEndpointsExportEveryDocumentedMetric) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=200,step_ms=20,ckpt_every=3,eval_every=2"));
  cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().last_checkpoint_step() >= 3; });
  const int coordinator_port = std::stoi(ReadFile(cluster.dir() + "/coordinator.metrics-port"));
  const int worker_port = std::stoi(ReadFile(cluster.WorkerDir("w1") + ".metrics-port"));
  const std::string scraped = HttpGetLocal(coordinator_port) + HttpGetLocal(worker_port);
  const std::string doc = ReadFile(TUNEFLEET_SOURCE_DIR "/docs/operations.md");
  const size_t section = doc.find("## Metrics");
  ASSERT_NE(section, std::string::npos);
  const std::string metrics_section = doc.substr(section, doc.find("\n## ", section + 1) - section);
  std::set<std::string> names, gpu_only;
  // GPU-only rows ("| `name` (GPU only) |") cannot be exported on a host without
  // one; GpuWorkerRegistersItsGpusAndExportsThem checks them with a fake NVML.
  const std::regex row(R"(\n\| `(tunefleet_[a-z_]+)`( \(GPU only\))? \|)");
  for (std::sregex_iterator it(metrics_section.begin(), metrics_section.end(), row), end; it != end; ++it) {
    ((*it)[2].matched ? gpu_only : names).insert((*it)[1]);
  }
  EXPECT_GE(names.size(), 30u);
  EXPECT_EQ(gpu_only.size(), 3u);
  for (const std::string& name : names) {
    EXPECT_THAT(scraped, HasSubstr("# TYPE " + name + " ")) << name << " is documented but not exported";
  }
  const std::string id = job.name().substr(5);
  EXPECT_THAT(scraped, HasSubstr("tunefleet_job_step{job=\"" + id + "\"}"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_workers{state=\"ready\"} 1"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_worker_ranks_running{worker=\"w1\"} 1"));
  EXPECT_THAT(scraped, ::testing::ContainsRegex("tunefleet_job_seconds_since_checkpoint\\{job=\"" + id + "\"\\}"));
  // Every RPC is counted by method and code; heartbeats missed per worker (how
  // many depends on this machine's load at a 0.2 s interval).
  EXPECT_THAT(scraped, ::testing::ContainsRegex(
                           R"(tunefleet_rpcs_total\{code="OK",method="tunefleet.v1.WorkerService/Heartbeat"\} [1-9])"));
  EXPECT_THAT(scraped, ::testing::ContainsRegex(
                           R"(tunefleet_rpc_duration_seconds_count\{method="tunefleet.v1.JobService/CreateJob"\} 1)"));
  EXPECT_THAT(scraped, ::testing::ContainsRegex(R"(tunefleet_worker_heartbeats_missed_total\{worker="w1"\} [0-9]+)"));
  // The rank's figures from its step, eval and checkpoint lines, and its (absent) GPU.
  const std::string rank = "{job=\"" + id + "\",rank=\"0\",worker=\"w1\"}";
  EXPECT_THAT(scraped, HasSubstr("tunefleet_rank_learning_rate" + rank + " 0.0001"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_rank_grad_norm" + rank + " 0.5"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_rank_eval_loss" + rank));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_rank_checkpoint_save_seconds" + rank + " 0.01"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_rank_checkpoint_bytes" + rank + " 4096"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_rank_checkpoint_stall_seconds" + rank + " 0.002"));
  EXPECT_THAT(scraped,
              HasSubstr("tunefleet_rank_info{job=\"" + id + "\",rank=\"0\",worker=\"w1\",gpu_uuid=\"\"} 1"));
  for (const std::string& name : gpu_only) EXPECT_THAT(scraped, Not(HasSubstr(name))) << "no GPU here";

  // Once the job is over its rank series are gone from the worker.
  ASSERT_TRUE(CancelJob(cluster, job.name()).ok());
  cluster.WaitForState(job.name(), v1::JOB_STATE_CANCELLED);
  ASSERT_TRUE(WaitUntil([&] { return HttpGetLocal(worker_port).find("job=\"" + id + "\"") == std::string::npos; }, 10s))
      << HttpGetLocal(worker_port);
}

TEST(ControlPlaneOpsE2e, GpuWorkerRegistersItsGpusAndExportsThem) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("g1", 0, {"--nvml-library", TUNEFLEET_FAKE_NVML});  // two fake GPUs
  const v1::Worker worker = cluster.GetWorker("g1");
  ASSERT_EQ(worker.resources().gpus_size(), 2);
  EXPECT_EQ(worker.resources().gpus(1).uuid(), "GPU-fake-1");
  EXPECT_EQ(worker.resources().cpu_slots(), 0);
  EXPECT_EQ(worker.slots_total(), 2);

  v1::CreateJobRequest request = cluster.FakeJob("steps=200,step_ms=20", 2);
  request.mutable_spec()->mutable_resources()->set_gpus_per_rank(1);
  v1::Job job = cluster.Submit(request);
  job = cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().step() >= 2; });
  const std::string id = job.name().substr(5);
  const int port = std::stoi(ReadFile(cluster.WorkerDir("g1") + ".metrics-port"));
  std::string scraped;
  ASSERT_TRUE(WaitUntil(
      [&] {
        scraped = HttpGetLocal(port);
        return scraped.find("tunefleet_rank_info{job=\"" + id + "\",rank=\"1\"") != std::string::npos;
      },
      10s))
      << scraped;
  // Each rank has its own GPU, named by the UUID that DCGM's series carry.
  std::set<std::string> uuids;
  for (int rank = 0; rank < 2; ++rank) {
    std::smatch m;
    const std::regex info("tunefleet_rank_info\\{job=\"" + id + "\",rank=\"" + std::to_string(rank) +
                          "\",worker=\"g1\",gpu_uuid=\"(GPU-fake-[01])\"\\} 1");
    ASSERT_TRUE(std::regex_search(scraped, m, info)) << scraped;
    uuids.insert(m[1]);
  }
  EXPECT_EQ(uuids.size(), 2u);
  const std::string gpu0 = R"({worker="g1",gpu="0",uuid="GPU-fake-0"})";
  EXPECT_THAT(scraped, HasSubstr(R"(tunefleet_gpu_utilization_ratio{worker="g1",gpu="1",uuid="GPU-fake-1"} 0.5)"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_gpu_memory_used_bytes" + gpu0 + " 1073741824"));
  EXPECT_THAT(scraped, HasSubstr("tunefleet_gpu_memory_total_bytes" + gpu0 + " 85899345920"));
  // The ranks got their GPU through CUDA_VISIBLE_DEVICES, in NVML's order.
  const std::string logs =
      Joined(ReadLogs(cluster, job.name(), 0, false)) + Joined(ReadLogs(cluster, job.name(), 1, false));
  EXPECT_THAT(logs, HasSubstr("CUDA_VISIBLE_DEVICES=0"));
  EXPECT_THAT(logs, HasSubstr("CUDA_VISIBLE_DEVICES=1"));
  ASSERT_TRUE(CancelJob(cluster, job.name()).ok());
}

TEST(ControlPlaneOpsE2e, ImpossibleGangIsRefusedAndRendezvousPortIsPickedFree) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("a", 1);
  cluster.StartWorker("b", 1);
  grpc::ClientContext context;
  v1::Job refused;
  const grpc::Status status = cluster.jobs().CreateJob(&context, cluster.FakeJob("steps=1", 3), &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("resources.world_size"));

  v1::Job job = cluster.Submit(cluster.FakeJob("steps=2", 2));
  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED);
  const std::string logs = Joined(ReadLogs(cluster, job.name(), 0, false)) + Joined(ReadLogs(cluster, job.name(), 1, false));
  std::smatch ports;
  std::set<std::string> seen;
  std::string rest = logs;
  while (std::regex_search(rest, ports, std::regex("MASTER_PORT=([0-9]+)"))) {
    seen.insert(ports[1]);
    rest = ports.suffix();
  }
  ASSERT_EQ(seen.size(), 1u) << logs;  // both ranks got the same port
  EXPECT_NE(*seen.begin(), "0");
}

}  // namespace
}  // namespace tunefleet::testing
