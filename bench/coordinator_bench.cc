// The coordinator under a simulated fleet: a real tunefleet-coordinator
// process, and in this process N simulated workers (gRPC clients speaking
// WorkerService as tunefleet-worker does) plus a submitter. It measures
//   - coordinator CPU (from /proc/<pid>/stat, so our clients do not count)
//     per second per 1,000 heartbeating workers: idle, with the cluster full
//     of running jobs, and with a backlog of queued jobs behind them;
//   - placement latency (submit -> every rank's assignment delivered to its
//     worker), uncontended and under a burst;
//   - placement throughput: a burst of jobs, each running --job-seconds, as
//     many at once as the fleet holds, until all have been placed.
// Simulated workers behave like the agent: they hold a WatchAssignments
// stream (each on a thread of its own; not with a coordinator that lacks the
// RPC, or with --no-stream), heartbeat every interval the coordinator gives
// them, at once after a new assignment or a rank's end, report rank 0's
// rendezvous port, and forget ranks they are told to stop. An assignment
// counts as delivered when it first arrives, on the stream or a heartbeat.
//
//   coordinator_bench --workers 1000 --jobs 10000        (the sizes)
//   coordinator_bench --workers 100 --jobs 1000 --measure-seconds 3   (quick)
//   coordinator_bench --only-full-cluster-submissions --submit-threads 32
//       (register, fill the fleet, time --jobs durable submissions into it)

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/security/cluster_pki.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"
#include "tests/testing/http_get.h"
#include "tunefleet/v1/job_service.grpc.pb.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace v1 = tunefleet::v1;
namespace security = tunefleet::security;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Flags {
  std::string coordinator = TUNEFLEET_BINARY_DIR "/coordinator/tunefleet-coordinator";
  int workers = 1000;
  int gpus_per_worker = 8;
  int jobs = 10000;
  double heartbeat_interval = 3;  // the coordinator's default
  double job_seconds = 2;         // how long each burst job runs
  double measure_seconds = 10;    // each CPU measurement window
  int probe_jobs = 100;           // uncontended latency samples
  int client_threads = 50;  // blocking clients: enough that one slow reply does not delay many workers
  int burst_timeout = 600;  // seconds
  int submit_threads = 4;
  std::string dir;  // default: a fresh folder under /tmp
  // TLS as in production: each simulated worker its own certificate and
  // connection, users a token. Off: the coordinator runs --insecure.
  bool tls = false;
  bool stream = true;  // hold WatchAssignments streams (when the coordinator serves it)
  // Skip the idle window, the uncontended probes and the burst: register,
  // fill the fleet, and time the backlog's submissions into the full cluster.
  bool only_full_cluster_submissions = false;
};

// ---------------------------------------------------------------- the coordinator process

class CoordinatorProcess {
 public:
  CoordinatorProcess(const Flags& flags, const std::string& dir) {
    const std::string port_file = dir + "/port", metrics_file = dir + "/metrics-port";
    std::vector<std::string> args = {flags.coordinator,  "--listen", "127.0.0.1:0", "--database", dir + "/state.db",
                                     "--port-file", port_file, "--heartbeat-interval",
                                     std::to_string(flags.heartbeat_interval), "--metrics-listen", "127.0.0.1:0",
                                     "--metrics-port-file", metrics_file,
                                     // One user submits every job of the burst: past the default quota.
                                     "--max-active-jobs-per-user", "0"};
    if (flags.tls) {
      const security::TlsFiles tls = security::CoordinatorFiles(dir + "/pki");
      for (const std::string& a : {std::string("--tls-ca"), tls.ca, std::string("--tls-cert"), tls.certificate,
                                   std::string("--tls-key"), tls.private_key, std::string("--tokens-file"),
                                   security::TokensPath(dir + "/pki")}) {
        args.push_back(a);
      }
    } else {
      args.push_back("--insecure");
    }
    const std::string log = dir + "/coordinator.log";
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
      FILE* out = std::freopen(log.c_str(), "w", stdout);
      if (out != nullptr) dup2(fileno(stdout), STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    const auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline && (Read(port_file).empty() || Read(metrics_file).empty())) {
      std::this_thread::sleep_for(20ms);
    }
    port_ = std::atoi(Read(port_file).c_str());
    metrics_port_ = std::atoi(Read(metrics_file).c_str());
    if (port_ <= 0) {
      std::fprintf(stderr, "coordinator did not start; see %s\n", log.c_str());
      std::exit(1);
    }
  }
  ~CoordinatorProcess() {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }

  // User + system CPU seconds so far.
  double CpuSeconds() const {
    const std::string stat = Read("/proc/" + std::to_string(pid_) + "/stat");
    std::istringstream in(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 14 and 15 (1-based) of proc(5)
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  // tunefleet_scheduling_pass_seconds: {count, sum} from /metrics.
  std::pair<double, double> SchedulingPasses() const { return Histogram("tunefleet_scheduling_pass_seconds"); }
  // tunefleet_placement_pass_seconds (coordinators that place on a thread of their own).
  std::pair<double, double> PlacementPasses() const { return Histogram("tunefleet_placement_pass_seconds"); }
  // The histogram's cumulative bucket counts, by upper bound.
  std::map<double, double> Buckets(const std::string& name) const {
    const std::string text = tunefleet::testing::HttpGetLocal(metrics_port_);
    std::map<double, double> out;
    std::istringstream in(text);
    std::string line;
    const std::string prefix = name + "_bucket{le=\"";
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) != 0) continue;
      const std::string le = line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size());
      out[le == "+Inf" ? 1e9 : std::atof(le.c_str())] = std::atof(line.c_str() + line.rfind(' '));
    }
    return out;
  }
  std::pair<double, double> Histogram(const std::string& name) const {
    const std::string text = tunefleet::testing::HttpGetLocal(metrics_port_);
    double count = 0, sum = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(name + "_count", 0) == 0) count = std::atof(line.c_str() + line.rfind(' '));
      if (line.rfind(name + "_sum", 0) == 0) sum = std::atof(line.c_str() + line.rfind(' '));
    }
    return {count, sum};
  }

 private:
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
};

// ---------------------------------------------------------------- what the workers see

// When each job was submitted and when its last rank's assignment arrived.
class Recorder {
 public:
  void Submitted(const std::string& job, Clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu_);
    submitted_[job] = at;
  }
  void Delivered(const std::string& job, int32_t rank, int32_t world_size, Clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& ranks = ranks_[job];
    if (ranks.insert(rank).second && static_cast<int32_t>(ranks.size()) == world_size) delivered_[job] = at;
  }
  size_t DeliveredCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_.size();
  }
  // Latencies (s) of `jobs` that were delivered, and the last delivery time.
  std::vector<double> Latencies(const std::vector<std::string>& jobs, Clock::time_point* last) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<double> out;
    for (const auto& job : jobs) {
      auto d = delivered_.find(job);
      auto s = submitted_.find(job);
      if (d == delivered_.end() || s == submitted_.end()) continue;
      out.push_back(Seconds(d->second - s->second));
      if (last != nullptr && d->second > *last) *last = d->second;
    }
    return out;
  }
  bool AllDelivered(const std::vector<std::string>& jobs) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& job : jobs) {
      if (!delivered_.count(job)) return false;
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Clock::time_point> submitted_, delivered_;
  std::map<std::string, std::set<int32_t>> ranks_;
};

struct SimRank {
  std::string job;
  int64_t generation = 0;
  int32_t rank = 0;
  int32_t world_size = 1;
  bool hold = false;  // runs until stopped
  Clock::time_point finish_at;
  bool finish_reported = false;
};

struct SimWorker {
  std::string id;
  std::string session;
  Clock::duration interval = 3s;
  Clock::time_point next_at;
  std::vector<SimRank> ranks;
  bool registered = false;
  std::shared_ptr<v1::WorkerService::Stub> stub;  // its own connection (TLS: its own certificate); null: the thread's
};

// A slice of the fleet, driven by one thread with its own channel.
class FleetThread {
 public:
  FleetThread(std::shared_ptr<grpc::Channel> channel, const Flags& flags, Recorder& recorder)
      : stub_(v1::WorkerService::NewStub(std::move(channel))), flags_(flags), recorder_(recorder) {}

  void Add(const std::string& id, std::shared_ptr<v1::WorkerService::Stub> stub = nullptr) {
    SimWorker w;
    w.id = id;
    w.stub = std::move(stub);
    w.next_at = Clock::now();
    workers_.push_back(std::move(w));
  }
  void Start() {
    for (size_t i = 0; i < workers_.size(); ++i) watches_.push_back(std::make_unique<Watch>());
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& watch : watches_) {
      {
        std::lock_guard<std::mutex> lock(watch->mu);
        watch->stop = true;
        if (watch->current != nullptr) watch->current->TryCancel();
      }
      watch->changed.notify_all();
      if (watch->thread.joinable()) watch->thread.join();
    }
  }
  // Directives that arrived on streams.
  int PushedCount() const { return streams_.load(); }
  int Registered() const { return registered_.load(); }
  int Failures() const { return failures_.load(); }
  int Reregistered() const { return reregistered_.load(); }
  // Heartbeat RPC latencies (s) since the last call.
  std::vector<double> TakeHeartbeatLatencies() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(heartbeat_latencies_, {});
  }

 private:
  v1::WorkerService::Stub& StubOf(const SimWorker& w) { return w.stub ? *w.stub : *stub_; }

  // One worker's stream, read on a thread of its own as the agent does.
  struct Watch {
    std::mutex mu;
    std::condition_variable changed;
    std::string session;
    bool stop = false;
    grpc::ClientContext* current = nullptr;
    std::thread thread;
  };
  struct Pushed {
    size_t worker;
    v1::WorkerDirective directive;
    Clock::time_point at;
  };

  void SetSession(size_t index, const std::string& session) {
    if (!flags_.stream || unsupported_.load()) return;
    Watch& watch = *watches_[index];
    {
      std::lock_guard<std::mutex> lock(watch.mu);
      if (watch.session == session) return;
      watch.session = session;
      if (watch.current != nullptr) watch.current->TryCancel();
    }
    watch.changed.notify_all();
    if (!watch.thread.joinable()) watch.thread = std::thread([this, index] { WatchLoop(index); });
  }

  void WatchLoop(size_t index) {
    Watch& watch = *watches_[index];
    while (true) {
      grpc::ClientContext context;
      v1::WatchAssignmentsRequest request;
      {
        std::unique_lock<std::mutex> lock(watch.mu);
        watch.changed.wait(lock, [&] { return watch.stop || !watch.session.empty(); });
        if (watch.stop) return;
        request.set_session(watch.session);
        watch.current = &context;
      }
      request.set_worker_id(workers_[index].id);
      auto reader = StubOf(workers_[index]).WatchAssignments(&context, request);
      v1::WorkerDirective directive;
      while (reader->Read(&directive)) {
        ++streams_;
        std::lock_guard<std::mutex> lock(pushed_mu_);
        pushed_.push_back({index, std::move(directive), Clock::now()});
        directive.Clear();
      }
      const grpc::Status status = reader->Finish();
      std::unique_lock<std::mutex> lock(watch.mu);
      watch.current = nullptr;
      if (watch.stop) return;
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        unsupported_ = true;  // an older coordinator: heartbeats only
        return;
      }
      watch.changed.wait_for(lock, 100ms, [&] { return watch.stop; });
    }
  }

  // What the streams brought since the last pass, applied as the agent's loop would.
  void ApplyPushed() {
    std::vector<Pushed> pushed;
    {
      std::lock_guard<std::mutex> lock(pushed_mu_);
      pushed.swap(pushed_);
    }
    for (Pushed& p : pushed) {
      SimWorker& w = workers_[p.worker];
      if (w.session.empty()) continue;
      ApplyDirective(w, p.directive.start(), p.directive.stop(), p.at);
    }
  }

  void ApplyDirective(SimWorker& w, const google::protobuf::RepeatedPtrField<v1::Assignment>& starts,
                      const google::protobuf::RepeatedPtrField<v1::StopRanks>& stops, Clock::time_point received) {
    for (const v1::StopRanks& stop : stops) {
      w.ranks.erase(std::remove_if(w.ranks.begin(), w.ranks.end(),
                                   [&](const SimRank& r) {
                                     return r.job == stop.job() && r.generation == stop.generation();
                                   }),
                    w.ranks.end());
    }
    for (const v1::Assignment& a : starts) {
      const bool hold = a.spec().display_name() == "bench:hold";
      for (int32_t rank : a.ranks()) {
        const bool known = std::any_of(w.ranks.begin(), w.ranks.end(), [&](const SimRank& r) {
          return r.job == a.job() && r.generation == a.generation() && r.rank == rank;
        });
        if (known) continue;
        SimRank r;
        r.job = a.job();
        r.generation = a.generation();
        r.rank = rank;
        r.world_size = a.world_size();
        r.hold = hold;
        r.finish_at = received + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(flags_.job_seconds));
        w.ranks.push_back(r);
        recorder_.Delivered(a.job(), rank, a.world_size(), received);
      }
      w.next_at = std::min(w.next_at, received);  // the agent reports a phase change at once
    }
  }

  void Run() {
    while (!stop_) {
      ApplyPushed();
      SimWorker* next = nullptr;
      for (SimWorker& w : workers_) {
        if (next == nullptr || w.next_at < next->next_at) next = &w;
      }
      const auto now = Clock::now();
      if (next == nullptr || next->next_at > now) {
        std::this_thread::sleep_for(std::min<Clock::duration>(next ? next->next_at - now : 10ms, 5ms));
        continue;
      }
      if (next->session.empty()) {
        Register(*next);
      } else {
        Heartbeat(*next);
      }
    }
  }

  void Register(SimWorker& w) {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(w.id);
    request.set_version("bench");
    auto* res = request.mutable_resources();
    res->set_hostname(w.id);
    res->set_address("127.0.0.1");
    for (int g = 0; g < flags_.gpus_per_worker; ++g) {
      auto* gpu = res->add_gpus();
      gpu->set_index(g);
      gpu->set_model("sim");
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::RegisterWorkerResponse response;
    if (!StubOf(w).RegisterWorker(&context, request, &response).ok()) {
      ++failures_;
      w.next_at = Clock::now() + 1s;
      return;
    }
    if (!w.registered) ++registered_;
    w.registered = true;
    w.session = response.session();
    SetSession(static_cast<size_t>(&w - workers_.data()), w.session);
    w.interval = std::chrono::seconds(response.heartbeat_interval().seconds()) +
                 std::chrono::nanoseconds(response.heartbeat_interval().nanos());
    // Spread the fleet's heartbeats over the interval, as independent nodes would be.
    std::uniform_int_distribution<int64_t> spread(0, std::chrono::duration_cast<std::chrono::microseconds>(w.interval).count());
    w.next_at = Clock::now() + std::chrono::microseconds(spread(rng_));
  }

  void Heartbeat(SimWorker& w) {
    const auto now = Clock::now();
    v1::HeartbeatRequest request;
    request.set_worker_id(w.id);
    request.set_session(w.session);
    for (SimRank& r : w.ranks) {
      auto* status = request.add_ranks();
      status->set_job(r.job);
      status->set_generation(r.generation);
      status->set_rank(r.rank);
      const bool done = !r.hold && now >= r.finish_at;
      status->set_phase(done ? v1::RANK_PHASE_SUCCEEDED : v1::RANK_PHASE_RUNNING);
      if (done) r.finish_reported = true;
      if (r.rank == 0 && r.world_size > 1) status->set_rendezvous_port(29500);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::HeartbeatResponse response;
    const auto sent = Clock::now();
    const grpc::Status status = StubOf(w).Heartbeat(&context, request, &response);
    const auto received = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      heartbeat_latencies_.push_back(Seconds(received - sent));
    }
    w.next_at = received + w.interval;
    if (!status.ok()) {
      if (failures_.fetch_add(1) == 0) std::fprintf(stderr, "Heartbeat: %s\n", status.error_message().c_str());
      return;
    }
    if (response.reregister()) {
      ++reregistered_;  // the coordinator had declared it lost: a false alarm here
      w.session.clear();
      w.next_at = received;
      return;
    }
    ApplyDirective(w, response.start(), response.stop(), received);
    for (const SimRank& r : w.ranks) {
      if (!r.hold && !r.finish_reported) w.next_at = std::min(w.next_at, std::max(r.finish_at, received));
    }
  }

  std::unique_ptr<v1::WorkerService::Stub> stub_;
  const Flags& flags_;
  Recorder& recorder_;
  std::vector<SimWorker> workers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> registered_{0};
  std::atomic<int> failures_{0};
  std::atomic<int> reregistered_{0};
  std::atomic<int> streams_{0};
  std::atomic<bool> unsupported_{false};
  std::vector<std::unique_ptr<Watch>> watches_;
  std::mutex pushed_mu_;
  std::vector<Pushed> pushed_;
  std::mutex mu_;
  std::vector<double> heartbeat_latencies_;
  std::mt19937_64 rng_{std::random_device{}()};
};

// ---------------------------------------------------------------- jobs

v1::CreateJobRequest BenchJob(int32_t world_size, bool hold) {
  v1::CreateJobRequest request;
  auto* spec = request.mutable_spec();
  spec->set_display_name(hold ? "bench:hold" : "bench:run");
  spec->mutable_model()->set_path("/bench/model");
  spec->mutable_dataset()->set_path("/bench/train.jsonl");
  spec->mutable_resources()->set_world_size(world_size);
  spec->mutable_resources()->set_gpus_per_rank(1);
  spec->mutable_checkpoint()->set_directory("/bench/checkpoints");
  return request;
}

// Gang sizes: many small jobs, a few that span two 8-GPU workers.
int32_t GangSize(std::mt19937_64& rng) {
  const int pick = std::uniform_int_distribution<int>(0, 99)(rng);
  if (pick < 40) return 1;
  if (pick < 65) return 2;
  if (pick < 85) return 4;
  if (pick < 95) return 8;
  return 16;
}

// Submits `count` jobs from several threads; returns their names.
std::vector<std::string> SubmitJobs(v1::JobService::Stub& jobs, Recorder& recorder, int count, int threads,
                                    bool hold, int32_t fixed_size, std::atomic<int>* failures) {
  std::vector<std::vector<std::string>> names(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 17);
      for (int i = t; i < count; i += threads) {
        const auto request = BenchJob(fixed_size > 0 ? fixed_size : GangSize(rng), hold);
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + 60s);
        v1::Job job;
        const auto at = Clock::now();
        const grpc::Status status = jobs.CreateJob(&context, request, &job);
        if (!status.ok()) {
          if (failures->fetch_add(1) == 0) std::fprintf(stderr, "CreateJob: %s\n", status.error_message().c_str());
          continue;
        }
        recorder.Submitted(job.name(), at);
        names[static_cast<size_t>(t)].push_back(job.name());
      }
    });
  }
  for (auto& thread : pool) thread.join();
  std::vector<std::string> all;
  for (auto& n : names) all.insert(all.end(), n.begin(), n.end());
  return all;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  return values[index];
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

struct Row {
  std::string what;
  std::string value;
  std::string note;
};

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Coordinator benchmark: simulated workers against a real tunefleet-coordinator"};
  app.add_option("--coordinator", flags.coordinator, "Path of tunefleet-coordinator")->capture_default_str();
  app.add_option("--workers", flags.workers, "Simulated workers")->capture_default_str();
  app.add_option("--gpus-per-worker", flags.gpus_per_worker, "GPUs each simulated worker offers")->capture_default_str();
  app.add_option("--jobs", flags.jobs, "Jobs in the burst, and in the queued backlog")->capture_default_str();
  app.add_option("--heartbeat-interval", flags.heartbeat_interval, "Seconds (the coordinator tells workers)")
      ->capture_default_str();
  app.add_option("--job-seconds", flags.job_seconds, "How long each burst job runs")->capture_default_str();
  app.add_option("--measure-seconds", flags.measure_seconds, "Length of each CPU window")->capture_default_str();
  app.add_option("--probe-jobs", flags.probe_jobs, "Jobs submitted one by one for uncontended latency")
      ->capture_default_str();
  app.add_option("--client-threads", flags.client_threads, "Threads driving the simulated workers")
      ->capture_default_str();
  app.add_option("--submit-threads", flags.submit_threads, "Threads calling CreateJob")->capture_default_str();
  app.add_option("--burst-timeout", flags.burst_timeout, "Seconds to wait for the burst to be placed")
      ->capture_default_str();
  app.add_flag("--stream,!--no-stream", flags.stream,
               "Workers hold WatchAssignments streams (when the coordinator serves them)")
      ->capture_default_str();
  app.add_flag("--tls", flags.tls, "TLS on, as tunefleet up runs it (a certificate and connection per worker)");
  app.add_flag("--only-full-cluster-submissions", flags.only_full_cluster_submissions,
               "Only register, fill the fleet and time --jobs submissions into it (no idle, probe or burst phase)");
  app.add_option("--dir", flags.dir, "Folder for the database and the coordinator's log (default: fresh in /tmp)");
  CLI11_PARSE(app, argc, argv);

  const bool own_dir = flags.dir.empty();
  if (own_dir) flags.dir = "/tmp/coordinator_bench_" + std::to_string(getpid());
  std::filesystem::remove_all(flags.dir);
  std::filesystem::create_directories(flags.dir);
  std::printf("coordinator_bench: %d workers x %d GPUs, %d jobs, heartbeat %.1f s, data in %s\n", flags.workers,
              flags.gpus_per_worker, flags.jobs, flags.heartbeat_interval, flags.dir.c_str());
  std::fflush(stdout);

  const std::string pki = flags.dir + "/pki";
  if (flags.tls) {
    if (auto s = security::EnsureClusterPki(pki); !s.ok()) {
      std::fprintf(stderr, "coordinator_bench: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  CoordinatorProcess coordinator(flags, flags.dir);
  const std::string target = "127.0.0.1:" + std::to_string(coordinator.port());
  Recorder recorder;
  std::vector<std::unique_ptr<FleetThread>> fleet;
  for (int t = 0; t < flags.client_threads; ++t) {
    grpc::ChannelArguments args;
    args.SetInt("tunefleet.bench.channel", t);  // a connection per thread, not one shared
    fleet.push_back(std::make_unique<FleetThread>(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args), flags, recorder));
  }
  for (int w = 0; w < flags.workers; ++w) {
    char id[32];
    std::snprintf(id, sizeof(id), "sim-%05d", w);
    std::shared_ptr<v1::WorkerService::Stub> stub;
    if (flags.tls) {
      auto made = security::EnsureWorkerCertificate(pki, id);
      auto credentials = security::ChannelCredentials(security::WorkerFiles(pki, id));
      if (!made.ok() || !credentials.ok()) {
        std::fprintf(stderr, "coordinator_bench: worker %s: TLS files\n", id);
        return 1;
      }
      stub = v1::WorkerService::NewStub(grpc::CreateCustomChannel(
          target, *credentials, security::ServerNameArguments(security::kCoordinatorServerName)));
    }
    fleet[static_cast<size_t>(w % flags.client_threads)]->Add(id, std::move(stub));
  }
  std::shared_ptr<grpc::Channel> jobs_channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  if (flags.tls) {
    auto tls = security::ChannelCredentials(security::ClientFiles(pki));
    const std::string token = security::ReadSmallFile(security::AdminTokenPath(pki)).value_or("");
    jobs_channel = grpc::CreateCustomChannel(target, security::WithBearerToken(*tls, token.substr(0, token.find('\n'))),
                                             security::ServerNameArguments(security::kCoordinatorServerName));
  }
  auto jobs = v1::JobService::NewStub(jobs_channel);
  std::atomic<int> submit_failures{0};
  std::vector<Row> rows;
  auto heartbeat_latencies = [&] {
    std::vector<double> all;
    for (auto& f : fleet) {
      auto l = f->TakeHeartbeatLatencies();
      all.insert(all.end(), l.begin(), l.end());
    }
    return all;
  };
  const double per_thousand = flags.workers / 1000.0;
  // CPU of the coordinator over one window, per 1,000 workers; also the
  // heartbeat RPC latency and the scheduling pass time in that window.
  auto measure = [&](const std::string& what) {
    heartbeat_latencies();
    const auto passes0 = coordinator.SchedulingPasses();
    const auto placements0 = coordinator.PlacementPasses();
    const double cpu0 = coordinator.CpuSeconds();
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(flags.measure_seconds));
    const double cpu = (coordinator.CpuSeconds() - cpu0) / Seconds(Clock::now() - t0);
    const auto passes1 = coordinator.SchedulingPasses();
    const auto placements1 = coordinator.PlacementPasses();
    const auto hb = heartbeat_latencies();
    const double pass_ms =
        passes1.first > passes0.first ? 1000 * (passes1.second - passes0.second) / (passes1.first - passes0.first) : 0;
    const double placement_ms = placements1.first > placements0.first
                                    ? 1000 * (placements1.second - placements0.second) /
                                          (placements1.first - placements0.first)
                                    : 0;
    char value[64], note[240];
    std::snprintf(value, sizeof(value), "%.4f", cpu / per_thousand);
    std::snprintf(note, sizeof(note),
                  "%.3f CPU-s/s total; heartbeat RPC p50 %.1f ms p99 %.1f ms (%zu); tick %.2f ms; placement pass %.2f ms "
                  "(%.0f run)",
                  cpu, 1000 * Percentile(hb, 0.5), 1000 * Percentile(hb, 0.99), hb.size(), pass_ms, placement_ms,
                  placements1.first - placements0.first);
    rows.push_back({"coordinator CPU-s/s per 1k workers: " + what, value, note});
    std::printf("  measured %s\n", what.c_str());
    std::fflush(stdout);
  };

  // 1. Register the fleet; then it heartbeats on its own.
  const auto register_start = Clock::now();
  for (auto& f : fleet) f->Start();
  auto registered = [&] {
    int n = 0;
    for (auto& f : fleet) n += f->Registered();
    return n;
  };
  if (!WaitFor([&] { return registered() == flags.workers; }, 120s)) {
    std::fprintf(stderr, "only %d of %d workers registered\n", registered(), flags.workers);
    return 1;
  }
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), "%.2f s", Seconds(Clock::now() - register_start));
  rows.push_back({"register all workers", buffer, ""});
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.heartbeat_interval));  // every worker's first beat

  const bool all_phases = !flags.only_full_cluster_submissions;
  // 2. Idle: heartbeats only.
  if (all_phases) measure("idle");

  // 3. Uncontended latency: one job at a time on an idle fleet.
  std::vector<std::string> probes;
  if (all_phases) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < flags.probe_jobs; ++i) {
      auto names = SubmitJobs(*jobs, recorder, 1, 1, false, GangSize(rng), &submit_failures);
      probes.insert(probes.end(), names.begin(), names.end());
      std::this_thread::sleep_for(20ms);
    }
    WaitFor([&] { return recorder.AllDelivered(probes); }, std::chrono::seconds(60));
    const auto latencies = recorder.Latencies(probes, nullptr);
    std::snprintf(buffer, sizeof(buffer), "%.3f / %.3f s", Percentile(latencies, 0.5), Percentile(latencies, 0.99));
    char note[160];
    std::snprintf(note, sizeof(note), "%zu jobs, one at a time, idle fleet (submit -> every rank's assignment received)",
                  latencies.size());
    rows.push_back({"placement latency p50 / p99, uncontended", buffer, note});
  }

  // 4. The burst: all jobs at once; they run --job-seconds each.
  if (all_phases) {
    const double cpu0 = coordinator.CpuSeconds();
    const auto start = Clock::now();
    std::vector<std::string> burst;
    std::thread submitter([&] {
      burst = SubmitJobs(*jobs, recorder, flags.jobs, flags.submit_threads, false, 0, &submit_failures);
    });
    submitter.join();
    const auto submitted = Clock::now();
    std::snprintf(buffer, sizeof(buffer), "%.0f jobs/s", burst.size() / Seconds(submitted - start));
    char note[160];
    std::snprintf(note, sizeof(note), "%zu CreateJob calls from %d threads in %.1f s", burst.size(),
                  flags.submit_threads, Seconds(submitted - start));
    rows.push_back({"submission throughput", buffer, note});
    auto report = Clock::now();
    const bool all = WaitFor(
        [&] {
          if (Clock::now() - report > 10s) {
            report = Clock::now();
            std::printf("  burst: %zu jobs delivered after %.0f s\n", recorder.DeliveredCount(),
                        Seconds(report - start));
            std::fflush(stdout);
          }
          return recorder.AllDelivered(burst);
        },
        std::chrono::seconds(flags.burst_timeout));
    Clock::time_point last = start;
    const auto latencies = recorder.Latencies(burst, &last);
    const double window = Seconds(last - start);
    std::snprintf(buffer, sizeof(buffer), "%.0f jobs/s", latencies.size() / window);
    std::snprintf(note, sizeof(note), "%zu of %zu jobs placed and delivered in %.1f s%s (each runs %.1f s)",
                  latencies.size(), burst.size(), window, all ? "" : " (TIMED OUT)", flags.job_seconds);
    rows.push_back({"placement throughput, burst", buffer, note});
    std::snprintf(buffer, sizeof(buffer), "%.2f / %.2f s", Percentile(latencies, 0.5), Percentile(latencies, 0.99));
    rows.push_back({"placement latency p50 / p99, burst", buffer, "includes waiting for capacity"});
    std::snprintf(buffer, sizeof(buffer), "%.4f", (coordinator.CpuSeconds() - cpu0) / window / per_thousand);
    rows.push_back({"coordinator CPU-s/s per 1k workers: burst", buffer, "from the first submission to the last delivery"});
    std::this_thread::sleep_for(std::chrono::duration<double>(flags.job_seconds + 2 * flags.heartbeat_interval));
  }

  // 5. Steady state with the fleet full of running jobs (8-GPU gangs that never end).
  {
    const int full = flags.workers * flags.gpus_per_worker / 8;
    auto running = SubmitJobs(*jobs, recorder, full, flags.submit_threads, true, 8, &submit_failures);
    if (!WaitFor([&] { return recorder.AllDelivered(running); }, std::chrono::seconds(300))) {
      std::fprintf(stderr, "the fleet did not fill up\n");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(flags.heartbeat_interval));
    if (all_phases) measure(std::to_string(running.size()) + " jobs running");

    // 6. And a backlog that cannot be placed until they end.
    const auto start = Clock::now();
    auto backlog = SubmitJobs(*jobs, recorder, flags.jobs, flags.submit_threads, true, 0, &submit_failures);
    const double queued_in = Seconds(Clock::now() - start);
    std::printf("  queued %zu jobs in %.1f s\n", backlog.size(), queued_in);
    if (!all_phases) {
      std::snprintf(buffer, sizeof(buffer), "%.0f jobs/s", backlog.size() / queued_in);
      char note[160];
      std::snprintf(note, sizeof(note), "%zu CreateJob calls from %d threads in %.2f s (each durable)", backlog.size(),
                    flags.submit_threads, queued_in);
      rows.push_back({"submissions into a full cluster (" + std::to_string(running.size()) + " running)", buffer,
                      note});
    } else {
      measure(std::to_string(running.size()) + " running + " + std::to_string(backlog.size()) + " queued");

      // 7. Placement passes over that queue: running jobs are cancelled, and
      // each freed slot wakes a pass over the 10,000 queued (a coordinator
      // that places on its ticks only reports none here: see its tick above).
      const auto placements0 = coordinator.PlacementPasses();
      const auto buckets0 = coordinator.Buckets("tunefleet_placement_pass_seconds");
      for (int i = 0; i < 10 && i < static_cast<int>(running.size()); ++i) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + 30s);
        v1::CancelJobRequest cancel;
        cancel.set_name(running[static_cast<size_t>(i)]);
        v1::Job cancelled;
        jobs->CancelJob(&context, cancel, &cancelled);
        std::this_thread::sleep_for(300ms);
      }
      // The workers confirm the stops on their next heartbeats; the slots then free.
      std::this_thread::sleep_for(std::chrono::duration<double>(2 * flags.heartbeat_interval));
      const auto placements1 = coordinator.PlacementPasses();
      const auto buckets1 = coordinator.Buckets("tunefleet_placement_pass_seconds");
      const double passes = placements1.first - placements0.first;
      double slowest = 0;  // the smallest bucket bound that holds every pass of the window
      for (const auto& [le, count] : buckets1) {
        const auto before = buckets0.find(le);
        if (count - (before == buckets0.end() ? 0 : before->second) >= passes) {
          slowest = le;
          break;
        }
      }
      if (passes > 0) {
        std::snprintf(buffer, sizeof(buffer), "%.2f ms", 1000 * (placements1.second - placements0.second) / passes);
      } else {
        std::snprintf(buffer, sizeof(buffer), "n/a");
      }
      char note[200];
      std::snprintf(note, sizeof(note),
                    "mean of %.0f passes woken by 10 cancellations and their freed slots; every one <= %.0f ms "
                    "(tunefleet_placement_pass_seconds)",
                    passes, 1000 * slowest);
      rows.push_back({"placement pass, " + std::to_string(running.size()) + " running + " +
                          std::to_string(backlog.size()) + " queued",
                      buffer, note});
    }
  }

  for (auto& f : fleet) f->Stop();
  int rpc_failures = 0, reregistered = 0, pushed = 0;
  for (auto& f : fleet) {
    rpc_failures += f->Failures();
    reregistered += f->Reregistered();
    pushed += f->PushedCount();
  }

  std::printf("\n| %-62s | %-16s | %s\n", "figure", "value", "note");
  std::printf("| %s | %s | %s\n", std::string(62, '-').c_str(), std::string(16, '-').c_str(), "----");
  for (const Row& row : rows) std::printf("| %-62s | %-16s | %s\n", row.what.c_str(), row.value.c_str(), row.note.c_str());
  std::printf("\nworker RPC failures: %d; told to register again (declared lost while alive): %d; CreateJob failures: %d; "
              "directives pushed on streams: %d\n",
              rpc_failures, reregistered, submit_failures.load(), pushed);
  if (own_dir) std::filesystem::remove_all(flags.dir);
  return 0;
}
