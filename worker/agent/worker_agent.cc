#include "worker/agent/worker_agent.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "common/exit_codes.h"
#include "common/fs/atomic_file.h"
#include "common/job_spec_file.h"
#include "common/log.h"
#include "common/metric_sample_limits.h"
#include "common/proto_time.h"
#include "common/security/tls.h"
#include "common/version.h"
#include "worker/supervisor/free_port.h"
#include "worker/supervisor/process_supervisor.h"
#include "worker/supervisor/trainer_launch.h"

namespace tunefleet::worker {
namespace {

bool IsLive(v1::RankPhase phase) {
  return phase == v1::RANK_PHASE_STARTING || phase == v1::RANK_PHASE_RUNNING ||
         phase == v1::RANK_PHASE_CHECKPOINTING;
}

void Say(const std::string& message) { Log("worker", message); }

// The trainer's "stopped after a committed checkpoint, resumable" exit code.
constexpr int kExitCheckpointedStop = exit_codes::kStoppedAfterCheckpoint;

// Samples kept for a coordinator that cannot be reached, per generation.
constexpr int kMaxPendingSamples = 10000;

// Attempts remembered as forgotten (WorkerAgent::forgotten_).
constexpr size_t kMaxForgotten = 4096;

// Reconnects at least once a heartbeat interval (gRPC's default backoff
// grows to 120 s): a worker back from a partition or a coordinator restart
// must rejoin within a lease, not minutes later. The first retry comes
// within a second (a coordinator restarting takes a few), not a whole
// interval after a refused attempt; a connection attempt may take an
// interval (SYNs lost in a partition).
grpc::ChannelArguments CoordinatorChannelArguments(const AgentOptions& options) {
  grpc::ChannelArguments args =
      options.credentials ? security::ServerNameArguments(options.coordinator_server_name) : grpc::ChannelArguments();
  const int interval_ms = static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options.heartbeat_interval), 100, 60000));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(interval_ms, 1000));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, interval_ms);  // the connect timeout
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, interval_ms);
  return args;
}

}  // namespace

WorkerAgent::WorkerAgent(AgentOptions options)
    : options_(std::move(options)),
      stub_(v1::WorkerService::NewStub(grpc::CreateCustomChannel(
          options_.coordinator,
          options_.credentials ? options_.credentials : grpc::InsecureChannelCredentials(),
          CoordinatorChannelArguments(options_)))),
      interval_(options_.heartbeat_interval),
      lease_(options_.stop_grace) {}

std::chrono::system_clock::time_point WorkerAgent::RpcDeadline() const {
  const absl::Time now = absl::Now();
  absl::Time deadline = now + options_.rpc_timeout;
  // A call blocked on a partition must not hold the loop past the fence; a
  // floor so that a call near the end still has a chance to succeed.
  if (lease_.active() && AnyLive()) deadline = std::min(deadline, std::max(lease_.TermAt(), now + absl::Milliseconds(100)));
  return absl::ToChronoTime(deadline);
}

void WorkerAgent::FenceIfLeaseLapsed() {
  const absl::Time now = absl::Now();
  if (!lease_.active() || !lease_.Lapsing(now)) return;
  bool fenced_any = false;
  for (auto& [key, process] : ranks_) {
    if (!IsLive(process.phase) || process.fenced) continue;
    if (!fenced_any) {
      Say(absl::StrCat("lease lapsed: no successful heartbeat for ",
                       absl::FormatDuration(absl::Trunc(now - lease_.renewed(), absl::Milliseconds(1))), " (lease ",
                       absl::FormatDuration(lease_.lease()), "): fencing, stopping every rank (SIGTERM, SIGKILL after ",
                       absl::FormatDuration(lease_.grace()), ") before the coordinator declares this worker lost"));
    }
    fenced_any = true;
    Say(absl::StrCat("fenced ", process.job, " generation ", process.generation, " rank ", process.rank, " pid ",
                     process.pid));
    process.fenced = true;
    process.message = absl::StrCat("fenced: this worker's lease (", absl::FormatDuration(lease_.lease()),
                                   ") lapsed without a successful heartbeat");
    process.kill_at = std::min(process.kill_at, std::max(lease_.KillAt(), now));
    if (!process.stop_requested) {
      process.stop_requested = true;
      supervisor::SignalGroup(process.pid, SIGTERM);
    }
  }
  // Whatever the coordinator decided meanwhile, the way back is a fresh
  // registration (reporting these ranks ended), not the old session.
  if (fenced_any) SetSession("");
}

bool WorkerAgent::Register() {
  v1::RegisterWorkerRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_version(TUNEFLEET_VERSION);
  auto* resources = request.mutable_resources();
  // A GPU node offers its GPUs; CPU slots are for nodes without one (or run with --cpu-only).
  for (const v1::GpuDevice& gpu : options_.gpus) *resources->add_gpus() = gpu;
  if (options_.gpus.empty()) resources->set_cpu_slots(options_.cpu_slots);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  resources->set_hostname(host);
  resources->set_address(options_.address);
  resources->set_log_address(options_.log_address);
  for (const auto& [key, process] : ranks_) *request.add_running_ranks() = Status(process);
  v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  context.set_deadline(RpcDeadline());
  const absl::Time sent = absl::Now();
  const grpc::Status status = stub_->RegisterWorker(&context, request, &response);
  if (!status.ok()) {
    Say(absl::StrCat("register with ", options_.coordinator, " failed: ", status.error_message()));
    return false;
  }
  SetSession(response.session());
  const absl::Duration lease = response.has_lease() ? FromProtoDuration(response.lease()) : absl::ZeroDuration();
  lease_.Grant(lease, sent);
  Say(absl::StrCat("registered as ", response.worker().name(), " with ", options_.coordinator, ", state ",
                   v1::WorkerState_Name(response.worker().state()), ", lease ",
                   lease_.active() ? absl::StrCat(absl::FormatDuration(lease), " (ranks stopped after ",
                                                  absl::FormatDuration(lease - lease_.grace()),
                                                  " without a successful heartbeat, killed at ",
                                                  absl::FormatDuration(lease), ")")
                                   : std::string("none (no self-fencing)")));
  if (lease_.active() && lease < 2 * interval_) {
    Say(absl::StrCat("WARNING: the lease ", absl::FormatDuration(lease), " is under two of this worker's heartbeat ",
                     "intervals (", absl::FormatDuration(interval_), "): one late heartbeat stops every rank"));
  }
  return true;
}

std::string WorkerAgent::GpuUuid(int32_t index) const {
  for (const v1::GpuDevice& gpu : options_.gpus) {
    if (gpu.index() == index) return gpu.uuid();
  }
  return "";  // not a GPU this worker registered (should not happen)
}

v1::RankStatus WorkerAgent::Status(const RankProcess& process) const {
  v1::RankStatus status;
  status.set_job(process.job);
  status.set_generation(process.generation);
  status.set_rank(process.rank);
  status.set_phase(process.phase);
  status.set_step(process.step);
  status.set_exit_code(process.exit_code);
  status.set_message(process.message);
  if (auto it = rendezvous_ports_.find({process.job, process.generation});
      process.rank == 0 && it != rendezvous_ports_.end()) {
    status.set_rendezvous_port(it->second);
  }
  return status;
}

bool WorkerAgent::Heartbeat() {
  v1::HeartbeatRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_session(session_);
  request.set_draining(draining_);
  for (const auto& [key, process] : ranks_) *request.add_ranks() = Status(process);
  v1::HeartbeatResponse response;
  grpc::ClientContext context;
  context.set_deadline(RpcDeadline());
  const absl::Time sent = absl::Now();
  const grpc::Status status = stub_->Heartbeat(&context, request, &response);
  if (!status.ok()) {
    Say(absl::StrCat("heartbeat failed: ", status.error_message()));
    return false;
  }
  if (response.reregister()) {
    SetSession("");  // not a renewal: the coordinator no longer knows this session
    return true;
  }
  lease_.Renew(sent);
  Apply(response);
  return true;
}

void WorkerAgent::SetSession(std::string session) {
  session_ = std::move(session);
  if (watcher_) watcher_->SetSession(session_);
}

bool WorkerAgent::ApplyPushed() {
  std::vector<v1::WorkerDirective> directives = inbox_.Take();
  for (v1::WorkerDirective& directive : directives) {
    if (session_.empty()) break;  // of a session that has ended: the next one's heartbeat says what holds
    v1::HeartbeatResponse as_reply;
    as_reply.mutable_start()->Swap(directive.mutable_start());
    as_reply.mutable_stop()->Swap(directive.mutable_stop());
    as_reply.mutable_checkpoint_now()->Swap(directive.mutable_checkpoint_now());
    Apply(as_reply);
  }
  return !directives.empty();
}

int WorkerAgent::WaitForWork(const sigset_t& stop_signals, int signal_fd, absl::Duration timeout) {
  if (signal_fd < 0) {  // no signalfd: the old way, pushed directives at the next pass
    timespec wait{};
    wait.tv_nsec = absl::ToInt64Nanoseconds(timeout);
    siginfo_t info;
    const int signal = sigtimedwait(&stop_signals, &info, &wait);
    return signal > 0 ? signal : 0;
  }
  pollfd fds[2] = {{signal_fd, POLLIN, 0}, {inbox_.fd(), POLLIN, 0}};
  const int n = poll(fds, inbox_.fd() >= 0 ? 2 : 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n <= 0 || !(fds[0].revents & POLLIN)) return 0;
  signalfd_siginfo info{};
  if (read(signal_fd, &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info))) return 0;
  return static_cast<int>(info.ssi_signo);
}

void WorkerAgent::Apply(const v1::HeartbeatResponse& response) {
  for (const v1::StopRanks& stop : response.stop()) Stop(stop.job(), stop.generation(), stop.reason());
  for (const v1::Assignment& assignment : response.start()) Start(assignment);
  for (const v1::CheckpointRequest& request : response.checkpoint_now()) {
    if (request.stop()) {
      const absl::Duration grace = request.has_grace() ? FromProtoDuration(request.grace()) : options_.stop_grace;
      DrainRanks(request.job(), request.generation(), std::max(grace, absl::ZeroDuration()));
      continue;
    }
    // The trainer contract: SIGUSR1 = checkpoint at the next step boundary and go on.
    for (auto& [key, process] : ranks_) {
      if (process.job == request.job() && process.generation == request.generation() && IsLive(process.phase)) {
        kill(process.pid, SIGUSR1);
      }
    }
  }
}

void WorkerAgent::DrainRanks(const std::string& job, int64_t generation, absl::Duration grace) {
  for (auto& [key, process] : ranks_) {
    if (!IsLive(process.phase) || process.drain_requested) continue;
    if ((!job.empty() && process.job != job) || (generation != 0 && process.generation != generation)) continue;
    Say(absl::StrCat("draining ", process.job, " generation ", process.generation, " rank ", process.rank,
                     ": SIGTERM (checkpoint, exit 75), SIGKILL after ", absl::FormatDuration(grace)));
    process.drain_requested = true;
    process.stop_requested = true;
    process.kill_at = std::min(process.kill_at, absl::Now() + grace);
    // The trainer process only, not its group: its helpers must live until it has saved.
    kill(process.pid, SIGTERM);
  }
}

void WorkerAgent::Start(const v1::Assignment& assignment) {
  const std::string& job = assignment.job();
  if (draining_) {
    Say(absl::StrCat("refused assignment of ", job, ": this worker is draining"));
    return;
  }
  if (forgotten_.count({job, assignment.generation()})) return;  // ran here and ended: a late duplicate
  if (!fence_.Admit(job, assignment.generation())) {
    Say(absl::StrCat("refused assignment of ", job, " generation ", assignment.generation(), ": generation ",
                     fence_.Newest(job), " is newer"));
    return;
  }
  // A newer generation supersedes whatever an older attempt left here.
  for (auto& [key, process] : ranks_) {
    if (process.job == job && process.generation < assignment.generation() && IsLive(process.phase)) {
      Stop(job, process.generation, "superseded by a newer attempt");
    }
  }
  const std::string dir = supervisor::AttemptDirectory(options_.work_dir, job, assignment.attempt());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string spec_path = dir + "/spec.json";
  if (!ec) {
    // A random O_EXCL temporary, then rename: never a fixed "<path>.tmp".
    if (absl::Status s = WriteFileAtomically(spec_path, JobSpecToJson(assignment.spec())); !s.ok()) {
      ec = std::make_error_code(std::errc::io_error);
      Say(absl::StrCat("cannot write ", spec_path, ": ", s.message()));
    }
  }
  // Rank 0 here and no port yet: pick one that is free on this node now and
  // report it; the other workers' ranks are sent it after.
  v1::Assignment launch = assignment;
  if (assignment.world_size() > 1 && assignment.rendezvous().port() == 0) {
    auto known = rendezvous_ports_.find({job, assignment.generation()});
    int port = known != rendezvous_ports_.end() ? known->second : 0;
    if (port == 0) {
      auto picked = supervisor::PickFreePort(options_.address);
      if (!picked.ok()) Say(absl::StrCat("rendezvous port for ", job, ": ", picked.status().ToString()));
      port = picked.ok() ? *picked : 0;
      if (port != 0) rendezvous_ports_[{job, assignment.generation()}] = port;
    }
    launch.mutable_rendezvous()->set_port(port);
  }
  for (int i = 0; i < assignment.ranks_size(); ++i) {
    const Key key{job, assignment.generation(), assignment.ranks(i)};
    if (ranks_.count(key)) continue;  // already started: assignments are idempotent
    RankProcess& process = ranks_[key];
    process.job = job;
    process.attempt = assignment.attempt();
    process.generation = assignment.generation();
    process.rank = assignment.ranks(i);
    supervisor::ProcessSpec spec =
        supervisor::TrainerProcess(options_.trainer, launch, i, dir, options_.trainer_paths,
                                   options_.encryption_key_file);
    process.uses_gpu = i < assignment.devices_size() && assignment.devices(i).gpu_indices_size() > 0;
    spec.limits = supervisor::TrainerRlimits(options_.trainer_limits, process.uses_gpu);
    if (options_.trainer_cgroups != nullptr && !ec) {
      // Named after the coordinator's ids ([a-z0-9-]), never user text.
      const std::string name = absl::StrCat("trainer-", job.substr(job.rfind('/') + 1), "-g",
                                            assignment.generation(), "-r", process.rank);
      auto group = options_.trainer_cgroups->Create(name, options_.trainer_limits.memory_max_bytes,
                                                    options_.trainer_limits.pids_max);
      if (group.ok()) {
        process.cgroup = spec.cgroup = *group;
      } else {
        Say(absl::StrCat("no cgroup for ", job, " rank ", process.rank, " (rlimits only): ", group.status().message()));
      }
    }
    process.metrics = std::make_unique<MetricsTail>(supervisor::MetricsPath(dir, process.rank));
    if (i < assignment.devices_size()) {
      for (int32_t index : assignment.devices(i).gpu_indices()) process.gpu_uuids.push_back(GpuUuid(index));
    }
    auto pid = ec ? absl::StatusOr<pid_t>(absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ",
                                                                               ec.message())))
                  : supervisor::Spawn(spec);
    if (!pid.ok()) {
      ReleaseCgroup(process);
      process.phase = v1::RANK_PHASE_FAILED;
      process.exit_code = -1;
      process.message = std::string(pid.status().message());
      Say(absl::StrCat("cannot start ", job, " rank ", process.rank, ": ", process.message));
      continue;
    }
    process.pid = *pid;
    process.phase = v1::RANK_PHASE_RUNNING;
    Say(absl::StrCat("started ", job, " attempt ", assignment.attempt(), " generation ", assignment.generation(),
                     " rank ", process.rank, "/", assignment.world_size(), " pid ", *pid, " log ", spec.log_path));
  }
}

void WorkerAgent::Stop(const std::string& job, int64_t generation, const std::string& reason) {
  for (auto it = ranks_.begin(); it != ranks_.end();) {
    RankProcess& process = it->second;
    if (process.job != job || process.generation != generation) {
      ++it;
      continue;
    }
    if (!IsLive(process.phase)) {
      rendezvous_ports_.erase({process.job, process.generation});
      if (forgotten_.insert({process.job, process.generation}).second) {
        forgotten_order_.emplace_back(process.job, process.generation);
        if (forgotten_order_.size() > kMaxForgotten) {
          forgotten_.erase(forgotten_order_.front());
          forgotten_order_.erase(forgotten_order_.begin());
        }
      }
      it = ranks_.erase(it);  // ended and acknowledged: forget it
      continue;
    }
    if (process.stop_requested) {
      // Already draining: the coordinator gave up waiting (drain deadline), so
      // the checkpoint gets at most the normal grace from now.
      process.kill_at = std::min(process.kill_at, absl::Now() + options_.stop_grace);
    }
    if (!process.stop_requested) {
      Say(absl::StrCat("stopping ", job, " generation ", generation, " rank ", process.rank, ": ", reason));
      process.stop_requested = true;
      process.kill_at = absl::Now() + options_.stop_grace;
      supervisor::SignalGroup(process.pid, SIGTERM);
    }
    ++it;
  }
}

bool WorkerAgent::Supervise() {
  bool changed = false;
  if (options_.trainer_cgroups != nullptr) options_.trainer_cgroups->RetryRemovals();
  for (auto& [key, process] : ranks_) {
    if (!IsLive(process.phase)) continue;
    if (process.metrics) {
      std::vector<v1::MetricSample> samples = process.metrics->Poll();
      process.step = process.metrics->step();
      if (!samples.empty()) {
        v1::ReportMetricsRequest& batch = pending_metrics_[process.generation];
        batch.set_worker_id(options_.worker_id);
        batch.set_generation(process.generation);
        for (v1::MetricSample& sample : samples) {
          sample.set_job(process.job);
          sample.set_attempt(process.attempt);
          sample.set_rank(process.rank);
          // One the coordinator would refuse would hold back the whole batch.
          if (auto s = metric_sample_limits::CheckSample(sample); !s.ok()) {
            Say(absl::StrCat("metric sample dropped: ", s.message()));
            continue;
          }
          *batch.add_samples() = std::move(sample);
        }
      }
    }
    const std::optional<int> code = supervisor::PollExit(process.pid);
    if (!code) {
      if (process.stop_requested && absl::Now() >= process.kill_at) {
        supervisor::SignalGroup(process.pid, SIGKILL);
        process.kill_at = absl::InfiniteFuture();
      }
      continue;
    }
    supervisor::SignalGroup(process.pid, SIGKILL);  // anything the trainer left in its group
    const bool oom_killed = ReleaseCgroup(process);
    process.exit_code = *code;
    ++exits_by_code_[*code];
    if (*code == kExitCheckpointedStop) {
      // Stopped after a committed checkpoint: resumable, whoever asked.
      process.phase = v1::RANK_PHASE_STOPPED;
      process.message = process.fenced ? absl::StrCat(process.message, "; stopped after a committed checkpoint (exit 75)")
                                       : "stopped after a committed checkpoint (exit 75)";
    } else if (process.stop_requested) {
      process.phase = v1::RANK_PHASE_STOPPED;
    } else if (*code == 0) {
      process.phase = v1::RANK_PHASE_SUCCEEDED;
    } else {
      process.phase = v1::RANK_PHASE_FAILED;
      process.message = supervisor::ExitReason(*code, oom_killed, options_.trainer_limits, process.uses_gpu);
    }
    Say(absl::StrCat(process.job, " generation ", process.generation, " rank ", process.rank, " exited ", *code,
                     " -> ", v1::RankPhase_Name(process.phase), process.message.empty() ? "" : ": ", process.message));
    changed = true;
  }
  return changed;
}

bool WorkerAgent::ReleaseCgroup(RankProcess& process) {
  if (process.cgroup.empty() || options_.trainer_cgroups == nullptr) return false;
  const bool oom_killed = options_.trainer_cgroups->OomKilled(process.cgroup);
  options_.trainer_cgroups->Remove(process.cgroup);
  process.cgroup.clear();
  return oom_killed;
}

void WorkerAgent::StopEverything() {
  for (auto& [key, process] : ranks_) {
    if (IsLive(process.phase)) supervisor::SignalGroup(process.pid, SIGTERM);
  }
  const absl::Time deadline = absl::Now() + options_.stop_grace;
  for (auto& [key, process] : ranks_) {
    if (!IsLive(process.phase)) continue;
    while (!supervisor::PollExit(process.pid)) {
      if (absl::Now() >= deadline) {
        supervisor::SignalGroup(process.pid, SIGKILL);
        while (!supervisor::PollExit(process.pid)) absl::SleepFor(absl::Milliseconds(10));
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ReleaseCgroup(process);
  }
}

bool WorkerAgent::AnyLive() const {
  for (const auto& [key, process] : ranks_) {
    if (IsLive(process.phase)) return true;
  }
  return false;
}

void WorkerAgent::ReportMetrics() {
  for (auto it = pending_metrics_.begin(); it != pending_metrics_.end();) {
    v1::ReportMetricsResponse response;
    grpc::ClientContext context;
    context.set_deadline(RpcDeadline());
    it->second.set_session(session_);
    const grpc::Status status = stub_->ReportMetrics(&context, it->second, &response);
    if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      // Ranks the coordinator no longer places here, or samples past its
      // limits (a coordinator with other limits): sent again, refused again.
      Say(absl::StrCat("metrics refused: ", status.error_message()));
      it = pending_metrics_.erase(it);
      continue;
    }
    if (!status.ok()) {
      // Kept for the next pass, bounded: the oldest go first.
      auto* samples = it->second.mutable_samples();
      if (samples->size() > kMaxPendingSamples) samples->DeleteSubrange(0, samples->size() - kMaxPendingSamples);
      return;
    }
    it = pending_metrics_.erase(it);
  }
}

void WorkerAgent::PublishBoard() {
  if (options_.board == nullptr) return;
  BoardSnapshot snapshot;
  snapshot.exits_by_code = exits_by_code_;
  for (const auto& [key, process] : ranks_) {
    if (!IsLive(process.phase)) continue;
    snapshot.live.emplace(process.job, process.attempt, process.rank);
    RankFigures figures;
    figures.job = process.job;
    figures.rank = process.rank;
    if (process.metrics) figures.progress = process.metrics->progress();
    figures.progress.step = process.step;
    figures.gpu_uuids = process.gpu_uuids;
    snapshot.ranks[{process.job, process.attempt, process.rank}] = figures;
  }
  options_.board->Publish(std::move(snapshot));
}

int WorkerAgent::Run(const sigset_t& stop_signals) {
  // The loop wakes often to reap trainers, and heartbeats at once when a
  // rank's phase changes, so an exit reaches the coordinator in milliseconds.
  const absl::Duration poll = std::min(absl::Milliseconds(100), interval_);
  absl::Time next_heartbeat = absl::Now();
  absl::Time drain_until = absl::InfiniteFuture();
  // The stop signals (blocked in every thread) and pushed directives wake
  // the same wait. The fd is closed on every path out.
  const int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  struct CloseOnExit {
    int fd;
    ~CloseOnExit() {
      if (fd >= 0) close(fd);
    }
  } close_signal_fd{signal_fd};
  watcher_ = std::make_unique<AssignmentWatcher>(stub_.get(), options_.worker_id, &inbox_);
  struct StopWatcher {
    std::unique_ptr<AssignmentWatcher>& watcher;
    ~StopWatcher() { watcher.reset(); }  // cancels the stream and joins its thread
  } stop_watcher{watcher_};
  while (true) {
    FenceIfLeaseLapsed();
    // Pushed starts are reported at once: the coordinator learns they run
    // (and rank 0's rendezvous port, which the gang's other workers wait for).
    if (ApplyPushed()) next_heartbeat = absl::Now();
    // The stream's session was refused (say, the coordinator restarted): the
    // heartbeat finds out now, not an interval later, and registers again.
    if (inbox_.TakeSessionRefused()) next_heartbeat = absl::Now();
    const bool changed = Supervise();
    PublishBoard();
    if (!session_.empty() && !pending_metrics_.empty()) ReportMetrics();  // before the heartbeat that may end the job
    bool reported = false;
    if (session_.empty()) {
      if (absl::Now() >= next_heartbeat) {
        if (Register()) next_heartbeat = absl::Now();  // first heartbeat right away
        else next_heartbeat = absl::Now() + interval_;
      }
    } else if (changed || absl::Now() >= next_heartbeat) {
      reported = Heartbeat();
      next_heartbeat = absl::Now() + interval_;
      // Started or stopped something: report it on the next pass, not a full interval later.
      if (session_.empty()) next_heartbeat = absl::Now();
    }
    if (draining_ && !AnyLive() && (reported || session_.empty() || absl::Now() >= drain_until)) {
      Say("drained: every rank has exited and been reported; exiting");
      return 0;
    }
    const int signal = WaitForWork(stop_signals, signal_fd, poll);
    if (signal > 0 && !draining_) {
      // Self-drain: ranks checkpoint and exit 75; the heartbeat's `draining`
      // makes the coordinator drain the rest of each gang and requeue.
      Say(absl::StrCat("signal ", signal, ": draining (grace ", absl::FormatDuration(options_.drain_grace),
                       "), then exiting"));
      draining_ = true;
      drain_until = absl::Now() + options_.drain_grace + options_.stop_grace;
      DrainRanks("", 0, options_.drain_grace);
      next_heartbeat = absl::Now();
    } else if (signal > 0) {
      Say(absl::StrCat("signal ", signal, " again: stopping every rank now and exiting"));
      StopEverything();
      return 0;
    }
  }
}

}  // namespace tunefleet::worker
