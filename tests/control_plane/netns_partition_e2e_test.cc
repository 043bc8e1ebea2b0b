// Partitions and fencing (issue 16, item 8), with real network namespaces:
// the coordinator on the test's namespace, each worker in a namespace of its
// own behind a veth pair, the checkpoint folder shared by all (like shared
// storage). A partitioned worker's trainers stop on their own before the
// coordinator declares it lost and re-places their job; a frozen stale
// attempt cannot commit a checkpoint the new attempt would resume from; the
// healed worker rejoins without a restart. Needs root (CAP_NET_ADMIN): fails
// saying why when namespaces cannot be made. Prints the measured timings.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"
#include "tests/control_plane/network_namespace.h"
#include "trainer/checkpoint/attempt_fence.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// The timeout the lease is derived from (coordinator/core/worker_lease.h):
// lease 2.7 s, SIGTERM at 1.8 s without a successful heartbeat.
constexpr double kWorkerTimeoutSeconds = 3;

struct StartedRank {
  int64_t attempt = 0;
  pid_t pid = -1;
  std::string log;
};

// The ranks the worker's log says it started for `job`.
std::vector<StartedRank> StartedRanks(const std::string& worker_log, const std::string& job) {
  std::vector<StartedRank> started;
  const std::regex line("started " + job + " attempt (\\d+) generation \\d+ rank 0/1 pid (\\d+) log (\\S+)");
  for (std::sregex_iterator it(worker_log.begin(), worker_log.end(), line), end; it != end; ++it) {
    started.push_back(StartedRank{std::stoll((*it)[1]), static_cast<pid_t>(std::stol((*it)[2])), (*it)[3]});
  }
  return started;
}

// Exited (a zombie counts: its parent may be frozen) or reaped.
bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const size_t close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] == 'Z';
}

// "g<G> a<A> step <N>" lines of the fake trainer, in order.
struct TrainedStep {
  int64_t attempt = 0;
  int64_t step = 0;
};
std::vector<TrainedStep> TrainedSteps(const std::string& job_dir) {
  std::vector<TrainedStep> steps;
  std::ifstream in(job_dir + "/trained-steps.log");
  std::string g, a, word;
  int64_t step = 0;
  while (in >> g >> a >> word >> step) steps.push_back(TrainedStep{std::stoll(a.substr(1)), step});
  return steps;
}

std::string JobId(const std::string& name) { return name.substr(name.rfind('/') + 1); }

class NetnsPartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      auto ns = NetworkNamespace::Create(i);
      ASSERT_TRUE(ns.ok()) << "cannot make the network namespaces this test needs: " << ns.status();
      namespaces_.push_back(*std::move(ns));
    }
    ClusterOptions options;
    // The root end of the first pair: the second namespace reaches it
    // through its own pair (root delivers to its local address), so cutting
    // the first pair cuts its worker alone.
    options.coordinator_host = namespaces_[0]->outside_address();
    options.coordinator_flags = {"--heartbeat-interval", "0.2", "--worker-timeout",
                                 std::to_string(kWorkerTimeoutSeconds), "--restart-backoff", "0.2",
                                 "--tick-interval", "0.05"};
    cluster_ = std::make_unique<Cluster>(options);
    cluster_->StartCoordinator();
  }

  void StartWorkerIn(const std::string& id, int ns) {
    cluster_->StartWorker(id, 1, {}, WorkerNetwork{namespaces_[ns]->Enter(), namespaces_[ns]->inside_address()});
  }

  v1::WorkerState State(const std::string& id) { return cluster_->GetWorker(id).state(); }

  // Submits `behaviour` while only w1 runs, so it lands there; then starts w2.
  v1::Job SubmitOnW1(const std::string& behaviour, int64_t past_step) {
    StartWorkerIn("w1", 0);
    v1::Job job = cluster_->Submit(cluster_->FakeJob(behaviour));
    job = cluster_->WaitForJob(
        job.name(),
        [&](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING && j.progress().step() > past_step; },
        30s);
    EXPECT_EQ(v1::JobState_Name(job.state()), "JOB_STATE_RUNNING") << cluster_->EventLog(job.name());
    StartWorkerIn("w2", 1);
    return job;
  }

  std::string JobDir(const v1::Job& job) const { return cluster_->dir() + "/checkpoints/" + JobId(job.name()); }

  // Declared first: the namespaces outlive the processes inside them.
  std::vector<std::unique_ptr<NetworkNamespace>> namespaces_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(NetnsPartitionTest, APartitionedWorkerFencesItselfTheJobMovesAndTheWorkerRejoins) {
  const v1::Job first = SubmitOnW1("steps=60,step_ms=100,ckpt_every=10", 12);
  ASSERT_FALSE(HasFailure());
  const std::vector<StartedRank> started = StartedRanks(cluster_->WorkerLog("w1"), first.name());
  ASSERT_EQ(started.size(), 1u) << cluster_->WorkerLog("w1");
  const pid_t trainer = started[0].pid;
  const pid_t w1 = cluster_->WorkerPid("w1");

  const Clock::time_point partitioned = Clock::now();
  ASSERT_TRUE(namespaces_[0]->Partition().ok());
  std::optional<Clock::time_point> stopped, lost, replaced;
  WaitUntil(
      [&] {
        const Clock::time_point now = Clock::now();
        if (!stopped && Gone(trainer)) stopped = now;
        if (!lost && State("w1") == v1::WORKER_STATE_LOST) lost = now;
        if (!replaced) {
          const v1::Job job = cluster_->GetJob(first.name());
          if (job.attempt() > first.attempt() && job.state() == v1::JOB_STATE_RUNNING &&
              job.placements_size() == 1 && job.placements(0).worker() == "workers/w2") {
            replaced = now;
          }
        }
        return stopped && lost && replaced;
      },
      30s);
  ASSERT_TRUE(stopped) << "w1's trainer still runs " << Seconds(Clock::now() - partitioned) << " s into the partition\n"
                       << cluster_->WorkerLog("w1");
  ASSERT_TRUE(lost) << cluster_->WorkerLog("w1");
  ASSERT_TRUE(replaced) << cluster_->EventLog(first.name());
  // The bound: the stale rank was dead before the coordinator gave up on its
  // worker (and so before any other attempt could start).
  EXPECT_LT(*stopped, *lost);
  EXPECT_LT(*stopped, *replaced);
  EXPECT_THAT(cluster_->WorkerLog("w1"), HasSubstr("lease lapsed"));
  EXPECT_THAT(cluster_->WorkerLog("w1"), HasSubstr("fenced " + first.name()));

  const Clock::time_point healed = Clock::now();
  ASSERT_TRUE(namespaces_[0]->Heal().ok());
  std::optional<Clock::time_point> rejoined;
  WaitUntil(
      [&] {
        if (State("w1") != v1::WORKER_STATE_READY) return false;
        rejoined = Clock::now();
        return true;
      },
      30s);
  ASSERT_TRUE(rejoined) << cluster_->WorkerLog("w1");
  EXPECT_FALSE(cluster_->WaitWorker("w1", 0ms).has_value()) << "w1 exited: it must rejoin without a restart";
  EXPECT_EQ(cluster_->WorkerPid("w1"), w1);
  // In ListWorkers too, READY, beside w2.
  {
    grpc::ClientContext context;
    v1::ListWorkersRequest request;
    v1::ListWorkersResponse response;
    ASSERT_TRUE(cluster_->admin().ListWorkers(&context, request, &response).ok());
    std::map<std::string, v1::WorkerState> states;
    for (const v1::Worker& worker : response.workers()) states[worker.name()] = worker.state();
    EXPECT_EQ(states["workers/w1"], v1::WORKER_STATE_READY);
    EXPECT_EQ(states["workers/w2"], v1::WORKER_STATE_READY);
  }

  const v1::Job done = cluster_->WaitForState(first.name(), v1::JOB_STATE_SUCCEEDED, 60s);
  EXPECT_EQ(done.attempt(), first.attempt() + 1) << cluster_->EventLog(first.name());
  // Its stale rank never came back on w1.
  EXPECT_EQ(StartedRanks(cluster_->WorkerLog("w1"), first.name()).size(), 1u) << cluster_->WorkerLog("w1");
  // Fenced with SIGTERM, the old attempt checkpointed the step it was on and
  // exited 75; the new one went on from there: every step once.
  const std::vector<TrainedStep> steps = TrainedSteps(JobDir(first));
  std::map<int64_t, int> times;
  int64_t last_old = 0, first_new = 0;
  for (const TrainedStep& s : steps) {
    ++times[s.step];
    if (s.attempt == first.attempt()) last_old = std::max(last_old, s.step);
    if (s.attempt == done.attempt() && first_new == 0) first_new = s.step;
  }
  EXPECT_EQ(first_new, last_old + 1);
  for (int64_t step = 1; step <= 60; ++step) EXPECT_EQ(times[step], 1) << "step " << step;
  EXPECT_EQ(times.size(), 60u);

  std::cout << "[figure] netns partition (--worker-timeout " << kWorkerTimeoutSeconds
            << " s, heartbeat 0.2 s, lease 2.7 s): partition -> w1's trainer stopped "
            << Seconds(*stopped - partitioned) << " s; -> w1 LOST " << Seconds(*lost - partitioned)
            << " s; -> job re-placed on w2 " << Seconds(*replaced - partitioned) << " s; heal -> w1 READY again "
            << Seconds(*rejoined - healed) << " s (no restart); old attempt's last step " << last_old
            << ", new attempt's first " << first_new << "\n";
}

TEST_F(NetnsPartitionTest, AFrozenStaleAttemptCannotCommitWhatTheNewAttemptWouldResumeFrom) {
  const v1::Job first = SubmitOnW1("steps=80,step_ms=100,ckpt_every=5", 7);
  ASSERT_FALSE(HasFailure());
  const std::vector<StartedRank> started = StartedRanks(cluster_->WorkerLog("w1"), first.name());
  ASSERT_EQ(started.size(), 1u) << cluster_->WorkerLog("w1");
  const pid_t trainer = started[0].pid;

  // A pause (a stalled VM, a stopped container) during a partition: neither
  // the worker nor its trainer can fence anything while frozen.
  cluster_->SignalWorker("w1", SIGSTOP);
  ASSERT_EQ(kill(trainer, SIGSTOP), 0);
  ASSERT_TRUE(namespaces_[0]->Partition().ok());
  const v1::Job moved = cluster_->WaitForJob(
      first.name(),
      [&](const v1::Job& j) {
        return j.attempt() > first.attempt() && j.state() == v1::JOB_STATE_RUNNING && j.placements_size() == 1 &&
               j.placements(0).worker() == "workers/w2";
      },
      30s);
  ASSERT_GT(moved.attempt(), first.attempt()) << cluster_->EventLog(first.name());
  // The new attempt has recorded itself before choosing what to resume from.
  std::optional<AttemptFence> fence;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto read = ReadAttemptFence(JobDir(first));
        if (!read.ok() || !read->has_value() || (*read)->attempt != moved.attempt()) return false;
        fence = **read;
        return true;
      },
      20s));

  // The stale trainer wakes: its next checkpoint is refused, and it exits.
  ASSERT_EQ(kill(trainer, SIGCONT), 0);
  ASSERT_TRUE(WaitUntil([&] { return Gone(trainer); }, 20s)) << ReadFile(started[0].log);
  const std::string stale_log = ReadFile(started[0].log);
  EXPECT_THAT(stale_log, HasSubstr("not committed: attempt fenced"));
  // Nothing it committed is one the fence rules out, and no checkpoint of
  // the old attempt is newer than the fence.
  auto committed = ListCommittedCheckpoints(CheckpointRoot{cluster_->dir() + "/checkpoints", JobId(first.name())},
                                            [](const std::string&) {});
  ASSERT_TRUE(committed.ok()) << committed.status();
  int64_t old_newest = 0;
  for (const CommittedCheckpoint& checkpoint : *committed) {
    EXPECT_FALSE(FencedOut(*fence, checkpoint.manifest)) << checkpoint.dir;
    int64_t generation = 0, attempt = 0;
    ASSERT_TRUE(ParseSaveId(checkpoint.manifest.save_id, &generation, &attempt)) << checkpoint.manifest.save_id;
    if (attempt == first.attempt()) {
      EXPECT_LE(checkpoint.manifest.created_unix_ms, fence->written_unix_ms) << checkpoint.dir;
      old_newest = std::max(old_newest, checkpoint.step);
    }
  }

  // Heal and wake the worker: its lease is long gone, so it fences what it
  // holds, reports it ended, and rejoins; the job finishes on w2.
  ASSERT_TRUE(namespaces_[0]->Heal().ok());
  cluster_->SignalWorker("w1", SIGCONT);
  ASSERT_TRUE(WaitUntil([&] { return State("w1") == v1::WORKER_STATE_READY; }, 30s)) << cluster_->WorkerLog("w1");
  const v1::Job done = cluster_->WaitForState(first.name(), v1::JOB_STATE_SUCCEEDED, 60s);
  EXPECT_EQ(done.attempt(), moved.attempt()) << cluster_->EventLog(first.name());
  EXPECT_EQ(StartedRanks(cluster_->WorkerLog("w1"), first.name()).size(), 1u);
  // The new attempt resumed right after the old one's last commit.
  int64_t first_new = 0, stale_steps = 0;
  for (const TrainedStep& s : TrainedSteps(JobDir(first))) {
    if (s.attempt == done.attempt() && first_new == 0) first_new = s.step;
    if (s.attempt == first.attempt() && s.step > old_newest) ++stale_steps;
  }
  EXPECT_EQ(first_new, old_newest + 1);
  EXPECT_GE(stale_steps, 1);  // the stale attempt did train past its last commit: that work was refused
  std::cout << "[figure] frozen stale attempt: last commit of attempt " << first.attempt() << " at step "
            << old_newest << "; its " << stale_steps << " later step(s) were refused a commit (exit 77); attempt "
            << done.attempt() << " resumed at step " << first_new << "\n";
}

}  // namespace
}  // namespace tunefleet::testing
