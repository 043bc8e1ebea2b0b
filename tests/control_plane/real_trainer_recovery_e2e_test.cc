// Recovery with the real trainer (libtorch, CPU, Gloo) through the control
// plane: a 2-rank job on 2 workers loses one worker to kill -9, or has one
// drained, and resumes on a spare worker from its checkpoint. Either way the
// exported weights must equal those of an undisturbed run of the same spec.
//
// Tolerance: the world size stays 2, so the resumed run repeats the same
// arithmetic in the same order and the checkpoint tests measured bitwise
// equality after kill -9 (checkpoint_resume_test.cc). We assert a max abs
// difference <= 1e-6 (what that file allows across world sizes) so a
// failure reads as a number, and print the measured one (expected 0).

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/job_spec_file.h"
#include "tests/control_plane/cluster.h"
#include "tests/testing/weight_diff.h"

namespace tunefleet::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int kSteps = 200;
constexpr int kCheckpointInterval = 25;
constexpr double kTolerance = 1e-6;
constexpr auto kRunTimeout = std::chrono::minutes(4);
// Less eager than the fake-trainer tests (1.5 s): two busy trainer ranks on
// a shared 2-core machine must not make a healthy worker look lost.
constexpr double kWorkerTimeoutSeconds = 3;

// `shared_data`: a folder of another cluster's that this one's jobs read.
ClusterOptions RecoveryOptions(const std::string& shared_data = "") {
  ClusterOptions options;
  if (!shared_data.empty()) options.worker_allowed_roots = {shared_data};
  options.trainer = TUNEFLEET_TRAINER_PATH;
  options.coordinator_flags = {"--heartbeat-interval", "0.2", "--worker-timeout",
                               std::to_string(kWorkerTimeoutSeconds), "--restart-backoff", "0.2",
                               "--tick-interval", "0.05"};
  return options;
}

// The demo job, small: 2 ranks, kSteps steps, a checkpoint every
// kCheckpointInterval steps, no evaluation. The same for every run.
v1::CreateJobRequest RecoveryJob(const std::string& data, const std::string& checkpoints,
                                 const std::string& exported) {
  auto spec = LoadJobSpecFile(TUNEFLEET_SOURCE_DIR "/demo/finetune.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  ResolveJobSpecPaths(*spec, TUNEFLEET_SOURCE_DIR "/demo");
  for (const std::string& assignment : std::vector<std::string>{
           "dataset.path=" + data + "/train.jsonl", "dataset.validation_path=",
           "hyperparameters.max_steps=" + std::to_string(kSteps), "hyperparameters.micro_batch_size=1",
           "hyperparameters.global_batch_size=4", "hyperparameters.sequence_length=64",
           "hyperparameters.learning_rate=1e-4", "hyperparameters.warmup_steps=0",
           "hyperparameters.weight_decay=0.01", "parallelism.bucket_size_mb=1",
           "parallelism.collective_timeout_seconds=60", "resources.world_size=2",
           "checkpoint.interval_steps=" + std::to_string(kCheckpointInterval), "checkpoint.directory=" + checkpoints,
           "export.directory=" + exported}) {
    EXPECT_TRUE(ApplyJobSpecOverride(*spec, assignment).ok()) << assignment;
  }
  v1::CreateJobRequest request;
  *request.mutable_spec() = *spec;
  return request;
}

std::string JobId(const v1::Job& job) { return job.name().substr(std::string("jobs/").size()); }

// The worker id (without "workers/") holding rank `rank` of the job's current attempt.
std::string WorkerOfRank(const v1::Job& job, int rank) {
  for (const auto& placement : job.placements()) {
    if (placement.rank() == rank) return placement.worker().substr(std::string("workers/").size());
  }
  return "";
}

std::string RankLog(Cluster& cluster, const std::string& worker, const v1::Job& job, int attempt, int rank) {
  return ReadFile(cluster.WorkerDir(worker) + "/jobs/" + JobId(job) + "/attempt-" + std::to_string(attempt) +
                  "/rank-" + std::to_string(rank) + ".log");
}

// The newest committed checkpoint (a step folder with its manifest) of a job; -1 when none.
int NewestCommittedStep(const std::string& job_dir) {
  int newest = -1;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(job_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) != 0 || name.find('.') != std::string::npos) continue;  // .damaged-N, .tmp
    if (!fs::exists(entry.path() / "manifest.json")) continue;
    newest = std::max(newest, std::stoi(name.substr(5)));
  }
  return newest;
}

// The step a trainer log says it resumed from; -1 when it started fresh.
int ResumedStep(const std::string& log) {
  std::smatch match;
  static const std::regex kResumed(R"(resumed from \S+ \(step (\d+))");
  return std::regex_search(log, match, kResumed) ? std::stoi(match[1]) : -1;
}

// The newest step a trainer log says it committed; -1 when none.
int NewestCommitLogged(const std::string& log) {
  static const std::regex kCommitted(R"(checkpoint: step (\d+) committed)");
  int newest = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kCommitted); it != std::sregex_iterator(); ++it) {
    newest = std::max(newest, std::stoi((*it)[1]));
  }
  return newest;
}

// Live (not zombie) children of `parent` whose command is the trainer.
std::vector<pid_t> TrainerChildren(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string stat = ReadFile(entry.path().string() + "/stat");
    // pid (comm) state ppid ...; comm may hold spaces, so parse after the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (ppid != parent || state == 'Z') continue;
    if (stat.find("(tunefleet-trai") == std::string::npos) continue;  // comm is cut to 15 characters
    out.push_back(static_cast<pid_t>(std::stol(entry.path().filename().string())));
  }
  return out;
}

bool Alive(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

bool HasEventWith(Cluster& cluster, const std::string& job, const std::string& text) {
  for (const auto& event : cluster.Events(job)) {
    if (event.message().find(text) != std::string::npos) return true;
  }
  return false;
}

// Past a committed scheduled checkpoint and at least one step beyond it.
bool PastACheckpoint(const v1::Job& job) {
  return job.state() == v1::JOB_STATE_RUNNING && job.progress().last_checkpoint_step() >= kCheckpointInterval &&
         job.progress().step() > job.progress().last_checkpoint_step();
}

class RealTrainerRecoveryE2e : public ::testing::Test {
 protected:
  // The demo data, and the undisturbed run's exported weights, made once.
  static void SetUpTestSuite() {
    // Two ranks share two cores with everything else: one thread each.
    setenv("OMP_NUM_THREADS", "1", 1);
    reference_cluster_ = new Cluster(RecoveryOptions());
    Cluster& cluster = *reference_cluster_;
    data_ = cluster.dir() + "/data";
    auto made = RunCommand({TUNEFLEET_DEMO_DATA_PATH, "--out", data_});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    cluster.StartCoordinator();
    cluster.StartWorker("r1", 1);
    cluster.StartWorker("r2", 1);
    const auto started = std::chrono::steady_clock::now();
    v1::Job job = cluster.Submit(RecoveryJob(data_, cluster.dir() + "/checkpoints", cluster.dir() + "/export"));
    job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, kRunTimeout);
    ASSERT_EQ(job.attempt(), 1);
    std::cout << "[figure] undisturbed 2-rank run of " << kSteps << " steps: "
              << Seconds(std::chrono::steady_clock::now() - started) << " s\n";
    reference_ = cluster.dir() + "/export/model.safetensors";
    ASSERT_TRUE(fs::exists(reference_));
  }
  static void TearDownTestSuite() {
    delete reference_cluster_;
    reference_cluster_ = nullptr;
  }

  static Cluster* reference_cluster_;
  static std::string data_;
  static std::string reference_;
};

Cluster* RealTrainerRecoveryE2e::reference_cluster_ = nullptr;
std::string RealTrainerRecoveryE2e::data_;
std::string RealTrainerRecoveryE2e::reference_;

// kill -9 of the worker holding rank 0 (the rendezvous host and the
// checkpoint committer) after a committed checkpoint: its trainer dies with
// it (PDEATHSIG), the coordinator notices within the liveness timeout, and
// attempt 2 resumes on the survivor and a spare from the newest checkpoint.
TEST_F(RealTrainerRecoveryE2e, KilledWorkerIsNoticedAndTheJobResumesFromItsCheckpointExactly) {
  Cluster cluster(RecoveryOptions(data_));
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  cluster.StartWorker("w2", 1);
  const std::string checkpoints = cluster.dir() + "/checkpoints";
  const std::string exported = cluster.dir() + "/export";
  v1::Job job = cluster.Submit(RecoveryJob(data_, checkpoints, exported));
  job = cluster.WaitForJob(job.name(), PastACheckpoint, kRunTimeout);
  ASSERT_TRUE(PastACheckpoint(job)) << cluster.EventLog(job.name());
  ASSERT_EQ(job.attempt(), 1);
  ASSERT_EQ(job.placements_size(), 2);
  cluster.StartWorker("spare", 1);  // after the placement, so attempt 1 is on w1 and w2
  const std::string victim = WorkerOfRank(job, 0);
  const std::string survivor = WorkerOfRank(job, 1);
  ASSERT_NE(victim, survivor);
  const std::vector<pid_t> trainers = TrainerChildren(cluster.WorkerPid(victim));
  ASSERT_EQ(trainers.size(), 1u) << "the victim's trainer rank";

  // Only the worker process: its trainers are in their own process groups.
  ASSERT_EQ(kill(cluster.WorkerPid(victim), SIGKILL), 0);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster.WaitWorker(victim, 10s).has_value());
  EXPECT_TRUE(WaitUntil([&] { return !Alive(trainers[0]); }, 5s)) << "trainer " << trainers[0] << " outlived its worker";
  const auto trainer_gone = std::chrono::steady_clock::now();

  ASSERT_TRUE(WaitUntil([&] { return cluster.GetWorker(victim).state() == v1::WORKER_STATE_LOST; }, 20s));
  const auto lost = std::chrono::steady_clock::now();
  std::cout << "[figure] kill -9 of the worker -> its trainer dead " << Seconds(trainer_gone - killed)
            << " s; -> worker LOST " << Seconds(lost - killed) << " s (--worker-timeout " << kWorkerTimeoutSeconds
            << " s, heartbeat 0.2 s, tick 0.05 s)\n";
  // Noticed at the timeout, plus a tick and our 20 ms poll; 2 s of slack for a busy machine.
  EXPECT_LT(Seconds(lost - killed), kWorkerTimeoutSeconds + 2.0);

  v1::Job resumed = cluster.WaitForJob(
      job.name(), [](const v1::Job& j) { return j.attempt() == 2 && j.state() == v1::JOB_STATE_RUNNING; }, 30s);
  ASSERT_EQ(resumed.attempt(), 2) << cluster.EventLog(job.name());
  // Every attempt-1 rank is dead before attempt 2 holds the survivor's slot,
  // and attempt 2 commits nothing before it has trained: this is the newest.
  const int newest = NewestCommittedStep(checkpoints + "/" + JobId(job));
  std::cout << "[figure] requeued and placed again " << Seconds(std::chrono::steady_clock::now() - killed)
            << " s after the kill; newest committed checkpoint: step " << newest << "\n";
  EXPECT_EQ(resumed.restarts_used(), 0);  // the infrastructure's failure, not the job's
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "worker lost")) << cluster.EventLog(job.name());
  const std::string rank0 = WorkerOfRank(resumed, 0);
  EXPECT_NE(rank0, victim);
  EXPECT_NE(WorkerOfRank(resumed, 1), victim);

  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, kRunTimeout);
  EXPECT_EQ(job.attempt(), 2);
  EXPECT_EQ(job.restarts_used(), 0);
  const std::string log = RankLog(cluster, rank0, job, 2, 0);
  const int resumed_step = ResumedStep(log);
  std::cout << "[figure] attempt 2 resumed from step " << resumed_step << " (killed at step >= "
            << resumed.progress().step() << ")\n";
  EXPECT_GE(newest, kCheckpointInterval);
  EXPECT_EQ(resumed_step, newest) << log;
  EXPECT_THAT(log, HasSubstr("step " + std::to_string(kSteps) + "/" + std::to_string(kSteps)));

  const double diff = MaxWeightDiff(exported + "/model.safetensors", reference_);
  std::cout << "[figure] max abs weight diff vs the undisturbed run: " << diff << " (tolerance " << kTolerance
            << ")\n";
  EXPECT_LE(diff, kTolerance);
}

// Drain of the worker holding rank 0 mid-job: every rank checkpoints at its
// next step boundary and exits 75, the attempt ends DRAINED (no restart
// spent), and attempt 2 starts at the drain checkpoint: no step is lost.
TEST_F(RealTrainerRecoveryE2e, DrainedWorkerMovesTheJobWithoutLosingAStep) {
  Cluster cluster(RecoveryOptions(data_));
  cluster.StartCoordinator();
  cluster.StartWorker("d1", 1);
  cluster.StartWorker("d2", 1);
  const std::string checkpoints = cluster.dir() + "/checkpoints";
  const std::string exported = cluster.dir() + "/export";
  v1::Job job = cluster.Submit(RecoveryJob(data_, checkpoints, exported));
  job = cluster.WaitForJob(job.name(), PastACheckpoint, kRunTimeout);
  ASSERT_TRUE(PastACheckpoint(job)) << cluster.EventLog(job.name());
  cluster.StartWorker("spare", 1);
  const std::string drained = WorkerOfRank(job, 0);

  const int64_t step_at_drain = cluster.GetJob(job.name()).progress().step();
  {
    grpc::ClientContext context;
    v1::DrainWorkerRequest drain;
    drain.set_name("workers/" + drained);
    drain.mutable_deadline()->set_seconds(120);  // generous: the checkpoint, not the deadline, ends it
    v1::Worker worker;
    ASSERT_TRUE(cluster.admin().DrainWorker(&context, drain, &worker).ok());
  }
  const auto drain_asked = std::chrono::steady_clock::now();
  v1::Job resumed = cluster.WaitForJob(
      job.name(), [](const v1::Job& j) { return j.attempt() == 2 && j.state() == v1::JOB_STATE_RUNNING; }, 60s);
  ASSERT_EQ(resumed.attempt(), 2) << cluster.EventLog(job.name());
  std::cout << "[figure] drain -> running elsewhere " << Seconds(std::chrono::steady_clock::now() - drain_asked)
            << " s\n";
  EXPECT_TRUE(HasEventWith(cluster, job.name(), "every rank checkpointed")) << cluster.EventLog(job.name());
  EXPECT_EQ(resumed.restarts_used(), 0);
  EXPECT_NE(WorkerOfRank(resumed, 0), drained);
  EXPECT_NE(WorkerOfRank(resumed, 1), drained);
  EXPECT_TRUE(WaitUntil([&] { return cluster.GetWorker(drained).state() == v1::WORKER_STATE_DRAINED; }, 10s));

  job = cluster.WaitForState(job.name(), v1::JOB_STATE_SUCCEEDED, kRunTimeout);
  EXPECT_EQ(job.attempt(), 2);
  EXPECT_EQ(job.restarts_used(), 0);
  // The drain checkpoint is attempt 1's last commit (rank 0 commits and logs it).
  const int drain_step = NewestCommitLogged(RankLog(cluster, drained, job, 1, 0));
  const std::string log = RankLog(cluster, WorkerOfRank(resumed, 0), job, 2, 0);
  const int resumed_step = ResumedStep(log);
  std::cout << "[figure] drain asked at step >= " << step_at_drain << "; drain checkpoint step " << drain_step
            << "; attempt 2 resumed from step " << resumed_step << "\n";
  EXPECT_GE(drain_step, step_at_drain);  // the drain saved where training was, not the last scheduled save
  EXPECT_EQ(resumed_step, drain_step) << log;

  const double diff = MaxWeightDiff(exported + "/model.safetensors", reference_);
  std::cout << "[figure] max abs weight diff vs the undisturbed run: " << diff << " (tolerance " << kTolerance
            << ")\n";
  EXPECT_LE(diff, kTolerance);
}

}  // namespace
}  // namespace tunefleet::testing
