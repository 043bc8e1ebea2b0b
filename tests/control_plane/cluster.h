#pragma once
// A real coordinator and real workers on 127.0.0.1, started as processes with
// port 0 and fast timing flags, and gRPC clients to drive them. Everything is
// killed when the Cluster goes away.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/testing/child_process.h"
#include "tunefleet/v1/admin_service.grpc.pb.h"
#include "tunefleet/v1/job_service.grpc.pb.h"

namespace tunefleet::testing {

using namespace std::chrono_literals;

struct ClusterOptions {
  std::string trainer;  // default: the fake trainer
  std::vector<std::string> coordinator_flags = {
      "--heartbeat-interval", "0.2", "--worker-timeout", "1.5", "--restart-backoff", "0.2",
      "--tick-interval", "0.05"};
  // The workers' roots besides the cluster's folder, the sources and the
  // build (their trainers refuse any other path).
  std::vector<std::string> worker_allowed_roots;
  std::string worker_heartbeat_interval = "0.2";  // seconds
  // Where the coordinator listens, and workers and clients reach it.
  std::string coordinator_host = "127.0.0.1";
};

// Where a worker runs: a command its own is run under (e.g. nsenter into a
// network namespace) and the address it serves and reports.
struct WorkerNetwork {
  std::vector<std::string> command_prefix;
  std::string address = "127.0.0.1";
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});

  // Starts the coordinator on `port` (0: any) and connects the clients.
  void StartCoordinator(int port = 0);
  void KillCoordinator();  // SIGKILL, no goodbye
  int port() const { return port_; }
  pid_t CoordinatorPid() const { return coordinator_->pid(); }
  const std::string& dir() const { return dir_; }

  // Starts a worker with `slots` CPU slots (--cpu-only), or with 0 one that
  // looks for GPUs (give it --nvml-library in `extra_flags`); waits until the
  // coordinator lists it.
  void StartWorker(const std::string& id, int slots = 1, const std::vector<std::string>& extra_flags = {},
                   const WorkerNetwork& network = {});
  // SIGKILL to the worker process; its trainers (own process groups) die by PDEATHSIG.
  void KillWorker(const std::string& id);
  pid_t WorkerPid(const std::string& id) const { return workers_.at(id)->pid(); }
  void SignalWorker(const std::string& id, int signal);
  std::optional<int> WaitWorker(const std::string& id, std::chrono::milliseconds timeout);
  std::string WorkerLog(const std::string& id) const;
  std::string WorkerDir(const std::string& id) const { return dir_ + "/" + id; }
  const ClusterOptions& options() const { return options_; }

  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  // The cluster's credentials (common/security/cluster_pki.h layout).
  std::string pki() const { return dir_ + "/pki"; }
  std::string AdminToken() const;
  // A TLS channel to the coordinator presenting `token`.
  std::shared_ptr<grpc::Channel> Channel(const std::string& token) const;
  // --tls-ca/--tls-cert/--tls-key for worker `id` (its certificate issued if new).
  std::vector<std::string> WorkerTlsFlags(const std::string& id) const;
  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::AdminService::Stub& admin() { return *admin_; }

  // A job for the fake trainer; `behaviour` goes into display_name.
  v1::CreateJobRequest FakeJob(const std::string& behaviour, int world_size = 1) const;
  v1::Job Submit(const v1::CreateJobRequest& request);
  v1::Job GetJob(const std::string& name);
  // Polls until `done(job)` or the deadline; returns the last job seen.
  v1::Job WaitForJob(const std::string& name, const std::function<bool(const v1::Job&)>& done,
                     std::chrono::milliseconds timeout = 20s);
  v1::Job WaitForState(const std::string& name, v1::JobState state, std::chrono::milliseconds timeout = 20s);
  std::vector<v1::JobEvent> Events(const std::string& name);
  std::string EventLog(const std::string& name);  // for failure messages
  v1::Worker GetWorker(const std::string& id);

 private:
  ClusterOptions options_;
  std::string dir_;
  int port_ = 0;
  std::optional<ChildProcess> coordinator_;
  std::map<std::string, std::unique_ptr<ChildProcess>> workers_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// Polls `condition` until true or the deadline.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// The whole file; empty when it cannot be read.
std::string ReadFile(const std::string& path);
inline double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace tunefleet::testing
