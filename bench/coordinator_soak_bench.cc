// A day of the control plane in a couple of minutes: the ControlPlane (with
// its SQLite store, in a temporary folder) on a simulated clock, driven the
// way the fleet drives it. Jobs are submitted all day by several users, run
// for a while on simulated workers that report metric samples every
// heartbeat, and finish; every simulated hour a worker dies for good and a new
// one joins. Prints, every simulated hour, what the coordinator holds and this
// process's resident memory: a flat RSS column is the goal (docs/performance.md).
//
//   coordinator_soak_bench                       (24 h, 16 workers, 2.5 jobs/min)
//   coordinator_soak_bench --hours 4 --jobs-per-minute 2   (quick)

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/store/sqlite_store.h"

namespace {

namespace v1 = tunefleet::v1;
using tunefleet::coordinator::ControlPlane;

int64_t RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

struct Flags {
  double hours = 24;
  int workers = 16;
  int slots = 4;
  double jobs_per_minute = 2.5;  // below capacity: 64 slots / 20 min
  double job_minutes = 20;        // how long a job trains
  double heartbeat_seconds = 5;   // simulated; one sample per running rank each
  double retention_hours = 1;     // --finished-job-retention
};

// One simulated worker: the ranks it runs, as the agent would report them.
struct SimWorker {
  std::string id;
  std::string session;
  bool alive = true;
  struct Rank {
    v1::RankStatus status;
    absl::Time started;
  };
  std::map<std::pair<std::string, int32_t>, Rank> ranks;  // (job, rank)
};

class Soak {
 public:
  Soak(const Flags& flags, std::unique_ptr<ControlPlane> plane, absl::Time* now)
      : flags_(flags), plane_(std::move(plane)), now_(now) {}

  void AddWorker() {
    SimWorker worker;
    worker.id = absl::StrCat("w", next_worker_++);
    v1::RegisterWorkerRequest request;
    request.set_worker_id(worker.id);
    request.mutable_resources()->set_cpu_slots(flags_.slots);
    auto registered = plane_->RegisterWorker(request);
    if (!registered.ok()) return;
    worker.session = registered->session();
    workers_.push_back(std::move(worker));
  }
  void KillOneWorker() {
    for (auto& worker : workers_) {
      if (worker.alive) {
        worker.alive = false;  // silent from now on: LOST after the timeout, then forgotten
        return;
      }
    }
  }
  void Submit() {
    v1::CreateJobRequest request;
    request.mutable_spec()->set_display_name("soak");
    request.mutable_spec()->mutable_model()->set_path("/models/m");
    request.mutable_spec()->mutable_dataset()->set_path("/data/d.jsonl");
    request.mutable_spec()->mutable_resources()->set_world_size(1);
    request.mutable_spec()->mutable_hyperparameters()->set_max_steps(100000);
    const std::string owner = absl::StrCat("user", submitted_ % 5);
    if (plane_->CreateJob(request, owner).ok()) ++submitted_;
  }
  void Beat(SimWorker& worker) {
    const absl::Duration run = absl::Minutes(flags_.job_minutes);
    v1::HeartbeatRequest request;
    request.set_worker_id(worker.id);
    request.set_session(worker.session);
    v1::ReportMetricsRequest metrics;
    metrics.set_worker_id(worker.id);
    metrics.set_session(worker.session);
    for (auto& [key, rank] : worker.ranks) {
      v1::RankStatus& status = rank.status;
      if (status.phase() == v1::RANK_PHASE_RUNNING) {
        const int64_t step = (*now_ - rank.started) / absl::Seconds(1);
        status.set_step(step);
        if (*now_ - rank.started >= run) status.set_phase(v1::RANK_PHASE_SUCCEEDED);
        metrics.set_generation(status.generation());
        v1::MetricSample* sample = metrics.add_samples();
        sample->set_job(status.job());
        sample->set_rank(status.rank());
        sample->set_step(step);
        sample->set_event("step");
        (*sample->mutable_values())["train_loss"] = 2.0 / (1.0 + static_cast<double>(step) / 600);
        (*sample->mutable_values())["learning_rate"] = 1e-4;
        (*sample->mutable_values())["tokens_per_second"] = 5000;
        (*sample->mutable_values())["grad_norm"] = 0.5;
      }
      *request.add_ranks() = status;
    }
    if (metrics.samples_size() > 0) plane_->ReportMetrics(metrics).IgnoreError();
    auto reply = plane_->Heartbeat(request);
    if (!reply.ok()) return;
    if (reply->reregister()) {
      v1::RegisterWorkerRequest again;
      again.set_worker_id(worker.id);
      again.mutable_resources()->set_cpu_slots(flags_.slots);
      if (auto registered = plane_->RegisterWorker(again); registered.ok()) worker.session = registered->session();
      return;
    }
    for (const v1::StopRanks& stop : reply->stop()) {
      for (auto it = worker.ranks.begin(); it != worker.ranks.end();) {
        const bool match = it->first.first == stop.job() && it->second.status.generation() == stop.generation();
        it = match ? worker.ranks.erase(it) : std::next(it);
      }
    }
    for (const v1::Assignment& start : reply->start()) {
      for (int32_t r : start.ranks()) {
        SimWorker::Rank rank;
        rank.status.set_job(start.job());
        rank.status.set_generation(start.generation());
        rank.status.set_rank(r);
        rank.status.set_phase(v1::RANK_PHASE_RUNNING);
        rank.started = *now_;
        worker.ranks[{start.job(), r}] = rank;
      }
    }
  }

  void Run() {
    for (int i = 0; i < flags_.workers; ++i) AddWorker();
    const absl::Duration tick = absl::Seconds(flags_.heartbeat_seconds);
    const absl::Time start = *now_;
    const absl::Duration day = absl::Hours(flags_.hours);
    double owed_jobs = 0;
    int hour = 0;
    std::printf("| sim hour | jobs submitted | jobs in memory | workers in registry | metric history (KiB) "
                "| RSS (MiB) |\n");
    std::printf("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    Print(0);
    while (*now_ - start < day) {
      *now_ += tick;
      owed_jobs += flags_.jobs_per_minute * absl::ToDoubleMinutes(tick);
      for (; owed_jobs >= 1; owed_jobs -= 1) Submit();
      for (auto& worker : workers_) {
        if (worker.alive) Beat(worker);
      }
      plane_->Tick();
      if ((*now_ - start) >= absl::Hours(hour + 1)) {
        ++hour;
        KillOneWorker();
        AddWorker();
        Print(hour);
      }
    }
  }

 private:
  void Print(int hour) {
    const auto stats = plane_->Stats();
    int64_t jobs = 0, workers = 0;
    for (const auto& [state, n] : stats.jobs_by_state) jobs += n;
    for (const auto& [state, n] : stats.workers_by_state) workers += n;
    std::printf("| %d | %lld | %lld | %lld | %lld | %.1f |\n", hour, static_cast<long long>(submitted_),
                static_cast<long long>(jobs), static_cast<long long>(workers),
                static_cast<long long>(stats.metric_history_bytes / 1024), RssKb() / 1024.0);
    std::fflush(stdout);
  }

  const Flags flags_;
  std::unique_ptr<ControlPlane> plane_;
  absl::Time* now_;
  std::vector<SimWorker> workers_;
  int next_worker_ = 0;
  int64_t submitted_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coordinator_soak_bench: a simulated day of the control plane; RSS every simulated hour"};
  Flags flags;
  std::string dir = "/tmp/tunefleet_soak_" + std::to_string(getpid());
  app.add_option("--hours", flags.hours, "Simulated hours")->capture_default_str();
  app.add_option("--workers", flags.workers, "Workers at any time")->capture_default_str();
  app.add_option("--jobs-per-minute", flags.jobs_per_minute, "Submissions per simulated minute")->capture_default_str();
  app.add_option("--job-minutes", flags.job_minutes, "Simulated minutes each job trains")->capture_default_str();
  app.add_option("--retention-hours", flags.retention_hours, "Finished jobs and gone workers kept in memory")
      ->capture_default_str();
  app.add_option("--dir", dir, "Folder for the database (removed after)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(dir);
  auto store = tunefleet::store::OpenSqliteStore(dir + "/state.db");
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  tunefleet::coordinator::ControlPlaneOptions options;
  options.clock = [&now] { return now; };
  options.heartbeat_interval = absl::Seconds(flags.heartbeat_seconds);
  options.worker_timeout = absl::Seconds(flags.heartbeat_seconds * 5);
  options.finished_job_retention = absl::Hours(flags.retention_hours);
  options.gone_worker_retention = absl::Hours(flags.retention_hours);
  options.max_active_jobs_per_user = 0;
  auto plane = ControlPlane::Create(std::move(*store), options);
  if (!plane.ok()) {
    std::fprintf(stderr, "%s\n", plane.status().ToString().c_str());
    return 1;
  }
  std::printf("coordinator_soak_bench: %.0f simulated hours, %d workers x %d slots, %.1f jobs/min of %.0f min, "
              "heartbeat %.0f s, retention %.1f h\n",
              flags.hours, flags.workers, flags.slots, flags.jobs_per_minute, flags.job_minutes,
              flags.heartbeat_seconds, flags.retention_hours);
  Soak soak(flags, std::move(*plane), &now);
  soak.Run();
  std::filesystem::remove_all(dir);
  return 0;
}
