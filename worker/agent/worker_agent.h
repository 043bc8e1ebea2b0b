#pragma once
// The worker daemon's loop: register with the coordinator, heartbeat every
// interval with the state of every rank it holds, and apply what the
// coordinator says: start assigned ranks, stop ranks of ended attempts.
// Directives are pushed on a stream (AssignmentWatcher, its own thread, which
// only reads and queues) and also ride on every heartbeat reply; the loop
// applies both, and applying one twice is harmless. Otherwise
// single-threaded: the loop is also the supervisor that reaps trainers, so no
// lock is needed and trainers' PDEATHSIG is tied to a thread that lives as
// long as the worker.

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <grpcpp/security/credentials.h>

#include "absl/time/time.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"
#include "worker/agent/assignment_watcher.h"
#include "worker/agent/directive_inbox.h"
#include "worker/agent/generation_fence.h"
#include "worker/agent/metrics_tail.h"
#include "worker/agent/self_fencing_lease.h"
#include "worker/agent/worker_status_board.h"
#include "worker/supervisor/trainer_cgroups.h"
#include "worker/supervisor/trainer_launch.h"
#include "worker/supervisor/trainer_limits.h"

namespace tunefleet::worker {

struct AgentOptions {
  std::string coordinator = "127.0.0.1:50051";
  std::string worker_id;
  int32_t cpu_slots = 2;  // registered only when `gpus` is empty
  std::vector<v1::GpuDevice> gpus;  // this node's GPUs (gpu_inventory.h), registered instead of CPU slots
  std::string address = "127.0.0.1";  // where rank 0's rendezvous binds on this node
  std::string trainer;                // path of tunefleet-trainer
  std::string work_dir;               // per-attempt specs, logs, metrics
  supervisor::TrainerPathPolicy trainer_paths;  // where trainers may open the job's paths
  supervisor::TrainerLimits trainer_limits;      // rlimits and cgroup bounds of every trainer
  // Where each trainer gets a cgroup of its own; null: rlimits only.
  supervisor::TrainerCgroups* trainer_cgroups = nullptr;
  absl::Duration heartbeat_interval = absl::Seconds(3);
  absl::Duration stop_grace = absl::Seconds(10);  // SIGTERM, then SIGKILL after this
  absl::Duration rpc_timeout = absl::Seconds(5);
  // On SIGTERM: how long ranks get to checkpoint (exit 75) before SIGKILL.
  absl::Duration drain_grace = absl::Minutes(5);
  std::string log_address;  // host:port of this worker's WorkerLogService, told to the coordinator
  WorkerStatusBoard* board = nullptr;  // published after every pass, for /metrics and logs
  // TLS to the coordinator (this worker's certificate, the cluster CA), whose
  // certificate must name `coordinator_server_name`; null: plaintext (--insecure).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string coordinator_server_name;
  // Encryption at rest: this key file's path is handed to every trainer
  // (TUNEFLEET_ENCRYPTION_KEY_FILE); empty: none.
  std::string encryption_key_file;
};

class WorkerAgent {
 public:
  explicit WorkerAgent(AgentOptions options);
  // Runs until one of `stop_signals` arrives (they must be blocked in every
  // thread); then stops every rank and returns the exit code.
  int Run(const sigset_t& stop_signals);

 private:
  struct RankProcess {
    std::string job;
    int64_t attempt = 0;
    int64_t generation = 0;
    int32_t rank = 0;
    pid_t pid = -1;
    v1::RankPhase phase = v1::RANK_PHASE_STARTING;
    int32_t exit_code = 0;
    std::string message;
    bool stop_requested = false;
    bool drain_requested = false;  // SIGTERM sent for a checkpoint-and-exit (75)
    bool fenced = false;  // stopped by this worker itself: its lease lapsed
    absl::Time kill_at = absl::InfiniteFuture();
    std::unique_ptr<MetricsTail> metrics;
    int64_t step = 0;
    std::vector<std::string> gpu_uuids;  // of the GPUs in its CUDA_VISIBLE_DEVICES
    bool uses_gpu = false;
    std::string cgroup;  // its own cgroup's directory; empty: none
  };
  using Key = std::tuple<std::string, int64_t, int32_t>;  // job, generation, rank

  bool Register();
  // One heartbeat round trip; false when the coordinator could not be reached.
  bool Heartbeat();
  void Apply(const v1::HeartbeatResponse& response);
  // Pushed directives waiting in inbox_; true when any was applied.
  bool ApplyPushed();
  // Waits up to `timeout` for a stop signal (returned) or a pushed directive (0).
  int WaitForWork(const sigset_t& stop_signals, int signal_fd, absl::Duration timeout);
  void SetSession(std::string session);
  void Start(const v1::Assignment& assignment);
  void Stop(const std::string& job, int64_t generation, const std::string& reason);
  // Reaps exited trainers, escalates overdue stops; true when a phase changed.
  bool Supervise();
  // After a trainer exited: whether the OOM killer struck in its cgroup; then removes the group.
  bool ReleaseCgroup(RankProcess& process);
  void StopEverything();
  // Self-fencing: once the lease is lapsing, SIGTERM every live rank (SIGKILL
  // at the lease's end) and forget the session, so that the next contact
  // with the coordinator is a registration that reports them ended.
  void FenceIfLeaseLapsed();
  // An RPC's deadline: rpc_timeout, but while ranks run under a lease never
  // past the moment they must be stopped (the loop is single-threaded).
  std::chrono::system_clock::time_point RpcDeadline() const;
  // Drain: SIGTERM (checkpoint, exit 75) to the live ranks of `job` (all when
  // empty) of `generation` (any when 0), SIGKILL after `grace`.
  void DrainRanks(const std::string& job, int64_t generation, absl::Duration grace);
  // Sends the metrics samples gathered so far; kept for the next try on failure.
  void ReportMetrics();
  void PublishBoard();
  bool AnyLive() const;
  v1::RankStatus Status(const RankProcess& process) const;
  std::string GpuUuid(int32_t index) const;

  const AgentOptions options_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::string session_;
  absl::Duration interval_;
  GenerationFence fence_;
  SelfFencingLease lease_;
  std::map<Key, RankProcess> ranks_;
  std::map<int64_t, v1::ReportMetricsRequest> pending_metrics_;  // by generation
  std::map<std::pair<std::string, int64_t>, int32_t> rendezvous_ports_;  // (job, generation) -> port, rank 0 here
  std::map<int, int64_t> exits_by_code_;
  // Attempts whose ranks this worker has forgotten (stopped and confirmed):
  // a start of one delivered late (a stream and a heartbeat both carry it) is
  // not a reason to run it again. The newest kMaxForgotten.
  std::set<std::pair<std::string, int64_t>> forgotten_;
  std::vector<std::pair<std::string, int64_t>> forgotten_order_;
  DirectiveInbox inbox_;
  std::unique_ptr<AssignmentWatcher> watcher_;  // during Run
  bool draining_ = false;  // SIGTERM received: self-drain, then exit
};

}  // namespace tunefleet::worker
