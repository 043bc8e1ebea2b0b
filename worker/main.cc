// tunefleet-worker: runs the trainer ranks assigned to this node.

#include <signal.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>

#include <CLI/CLI.hpp>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <prometheus/exposer.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/encryption_key.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "common/security/tls.h"
#include "common/version.h"
#include "worker/agent/worker_agent.h"
#include "worker/gpus/nvml_gpu_inventory.h"
#include "worker/logs/log_service.h"
#include "worker/metrics/worker_metrics.h"
#include "worker/supervisor/trainer_cgroups.h"
#include "worker/supervisor/trainer_limits.h"

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-worker: runs tunefleet trainer ranks on this node"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  tunefleet::worker::AgentOptions options;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  options.worker_id = host;
  double heartbeat_s = 3, stop_grace_s = 10, drain_grace_s = 300;
  std::string log_listen, metrics_listen, metrics_port_file;
  tunefleet::security::TlsFiles tls;
  bool insecure = false;
  std::string coordinator_server_name = tunefleet::security::kCoordinatorServerName;
  std::string trainer =
      (std::filesystem::path(argv[0]).parent_path().parent_path() / "trainer" / "tunefleet-trainer").string();
  std::string work_dir = "tunefleet-worker";
  bool cpu_only = false;
  std::string nvml_library = tunefleet::worker::kNvmlLibrary;
  app.add_option("--coordinator", options.coordinator, "Coordinator gRPC address")->capture_default_str();
  app.add_option("--worker-id", options.worker_id, "This worker's id (workers/{id}); default: the hostname")
      ->capture_default_str();
  app.add_option("--cpu-slots", options.cpu_slots, "Ranks this worker runs when it has no GPU")
      ->capture_default_str();
  app.add_flag("--cpu-only", cpu_only, "Do not look for GPUs: offer --cpu-slots even on a GPU node");
  app.add_option("--nvml-library", nvml_library, "NVML library to find GPUs with (loaded at run time)")
      ->capture_default_str();
  app.add_option("--address", options.address, "Address of this node that other nodes' trainers can reach")
      ->capture_default_str();
  app.add_option("--trainer", trainer, "Path of the tunefleet-trainer binary")->capture_default_str();
  app.add_option("--work-dir", work_dir, "Directory for per-attempt specs, rank logs and metrics")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", heartbeat_s, "Seconds between heartbeats")->capture_default_str();
  app.add_option("--stop-grace", stop_grace_s, "Seconds between SIGTERM and SIGKILL when stopping a rank")
      ->capture_default_str();
  app.add_option("--drain-grace", drain_grace_s,
                 "On SIGTERM: seconds ranks get to checkpoint and exit 75 before SIGKILL")
      ->capture_default_str();
  app.add_option("--log-listen", log_listen,
                 "Where the WorkerLogService listens (the coordinator reads rank logs there); port 0 picks one. "
                 "Default: --address, port 0 (never every interface unless asked)");
  app.add_option("--tls-ca", tls.ca, "The cluster CA's certificate (PEM): the coordinator's must chain to it");
  app.add_option("--tls-cert", tls.certificate,
                 "This worker's certificate (PEM, CN = --worker-id, signed by the cluster CA)");
  app.add_option("--tls-key", tls.private_key, "This worker's private key (PEM)");
  app.add_option("--coordinator-server-name", coordinator_server_name,
                 "The name the coordinator's certificate must carry")
      ->capture_default_str();
  app.add_flag("--insecure", insecure, "No TLS: only with a coordinator on loopback (tests, one-machine use)");
  app.add_option("--encryption-key-file", options.encryption_key_file,
                 "Encrypt every job's checkpoints and exports at rest under this key file's first key (a mounted "
                 "Secret, mode 0400; see docs/security.md). Only its path reaches the trainers");
  app.add_option("--metrics-listen", metrics_listen, "Serve Prometheus /metrics here (e.g. 0.0.0.0:9465; empty: off)");
  app.add_option("--metrics-port-file", metrics_port_file, "Write the bound /metrics port here");
  // Trainer limits (docs/operations.md): sizes are parsed after the flags,
  // against this machine's memory.
  std::string trainer_memory_max = "80%", trainer_address_space_max = "100%";
  app.add_option("--trainer-memory-max", trainer_memory_max,
                 "memory.max of each trainer's own cgroup, where the worker can make one: bytes (8G, 512M), a "
                 "percentage of this machine's memory, or off")
      ->capture_default_str();
  app.add_option("--trainer-pids-max", options.trainer_limits.pids_max,
                 "pids.max (processes and threads) of each trainer's cgroup; 0: none")
      ->capture_default_str();
  app.add_option("--trainer-address-space-max", trainer_address_space_max,
                 "RLIMIT_AS of each CPU-only trainer (virtual memory): bytes, a percentage of this machine's "
                 "memory, or off. Never set on a rank with a GPU (CUDA reserves far more address space than memory)")
      ->capture_default_str();
  app.add_option("--trainer-open-files", options.trainer_limits.open_files,
                 "RLIMIT_NOFILE of each trainer; 0: the worker's own")
      ->capture_default_str();
  tunefleet::supervisor::TrainerPathPolicy& paths = options.trainer_paths;
  app.add_option("--allowed-root", paths.allowed_roots,
                 "A folder jobs' paths (model, data, checkpoints, export) may be opened beneath; each trainer "
                 "resolves links at open and refuses what leads out (repeatable). Default: --work-dir. "
                 "--work-dir/jobs (specs, rank logs) is never open to jobs");
  app.add_option("--denied-path", paths.denied_paths,
                 "A folder or file inside the roots jobs may never open (repeatable; e.g. the cluster's keys)");
  app.add_flag("--allow-any-path", paths.allow_any_path,
               "Operators only: trainers open jobs' paths anywhere but /, /etc, /proc, /sys, /dev (no roots)");
  CLI11_PARSE(app, argc, argv);
  if (log_listen.empty()) log_listen = options.address + ":0";
  if (insecure && !tunefleet::security::IsLoopback(options.coordinator)) {
    std::cerr << "tunefleet-worker: --insecure is only for a coordinator on loopback, not " << options.coordinator
              << "\n";
    return 2;
  }
  if (!insecure && (tls.ca.empty() || tls.certificate.empty() || tls.private_key.empty())) {
    std::cerr << "tunefleet-worker: TLS is on: pass --tls-ca, --tls-cert and --tls-key (tunefleet up makes them), "
                 "or --insecure for a coordinator on loopback\n";
    return 2;
  }

  const uint64_t machine_memory = tunefleet::supervisor::PhysicalMemoryBytes();
  for (auto [text, flag, bytes] :
       {std::tuple{&trainer_memory_max, "--trainer-memory-max", &options.trainer_limits.memory_max_bytes},
        std::tuple{&trainer_address_space_max, "--trainer-address-space-max",
                   &options.trainer_limits.address_space_bytes}}) {
    auto parsed = tunefleet::supervisor::ParseMemorySize(*text, machine_memory, flag);
    if (!parsed.ok()) {
      std::cerr << "tunefleet-worker: " << parsed.status().message() << "\n";
      return 2;
    }
    *bytes = *parsed;
  }
  options.heartbeat_interval = absl::Seconds(heartbeat_s);
  options.stop_grace = absl::Seconds(stop_grace_s);
  options.drain_grace = absl::Seconds(drain_grace_s);
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);
  options.work_dir = std::filesystem::absolute(work_dir).string();
  // Default roots on: the work dir when none is given.
  if (auto policy = tunefleet::supervisor::WorkerPathPolicy(paths, options.work_dir); policy.ok()) {
    paths = *std::move(policy);
  } else {
    std::cerr << "tunefleet-worker: " << policy.status().message() << "\n";
    return 2;
  }
  options.trainer = std::filesystem::absolute(trainer).string();
  if (!options.encryption_key_file.empty()) {
    // Checked here so a bad key fails the worker at start, not each job later.
    options.encryption_key_file = std::filesystem::absolute(options.encryption_key_file).string();
    auto keys = tunefleet::crypto::LoadKeyFile(options.encryption_key_file);
    if (!keys.ok()) {
      std::cerr << "tunefleet-worker: " << keys.status().message() << "\n";
      return 2;
    }
    const std::string id = tunefleet::crypto::KeyIdHex(keys->current().id());
    tunefleet::Log("worker", absl::StrCat("encryption at rest on: key ", id, " (", keys->size(), " key(s) in ",
                                          options.encryption_key_file, ")"));
  }

  // Blocked in every thread (gRPC's inherit the mask); the agent's loop takes
  // them with sigtimedwait. Trainers get an empty mask back.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    // GPUs through NVML when the driver has it; otherwise (or with --cpu-only) CPU slots.
    std::unique_ptr<tunefleet::worker::GpuInventory> gpus;
    if (!cpu_only) {
      auto found = tunefleet::worker::OpenNvmlInventory(nvml_library);
      if (found.ok()) {
        gpus = std::move(*found);
        options.gpus = gpus->Devices();
        for (const auto& gpu : options.gpus) {
          tunefleet::Log("worker", absl::StrCat("GPU ", gpu.index(), ": ", gpu.model(), " ", gpu.uuid(), ", ",
                                                gpu.memory_bytes() >> 20, " MiB"));
        }
        if (options.gpus.empty()) tunefleet::Log("worker", "NVML found no GPU; offering CPU slots");
      } else {
        tunefleet::Log("worker", absl::StrCat("no GPUs (", found.status().message(), "); offering CPU slots"));
      }
    }
    const std::string capacity = options.gpus.empty() ? absl::StrCat(options.cpu_slots, " CPU slots")
                                                      : absl::StrCat(options.gpus.size(), " GPUs");
    tunefleet::Log("worker", absl::StrCat("worker ", options.worker_id, " starting: coordinator ",
                                          options.coordinator, ", ", capacity, ", trainer ", options.trainer,
                                          ", work dir ", options.work_dir, ", job paths ",
                                          paths.allow_any_path ? std::string("anywhere (--allow-any-path)")
                                                               : absl::StrCat("beneath ", absl::StrJoin(paths.allowed_roots, ", "))));
    // Each trainer in a cgroup of its own where the worker may make one;
    // otherwise rlimits only, said once here.
    std::unique_ptr<tunefleet::supervisor::TrainerCgroups> cgroups;
    const tunefleet::supervisor::TrainerLimits& limits = options.trainer_limits;
    auto own_cgroup = tunefleet::supervisor::OwnCgroupDirectory();
    using OpenedCgroups = absl::StatusOr<std::unique_ptr<tunefleet::supervisor::TrainerCgroups>>;
    OpenedCgroups opened = own_cgroup.ok() ? tunefleet::supervisor::TrainerCgroups::Open(*own_cgroup)
                                           : OpenedCgroups(own_cgroup.status());
    if (opened.ok()) {
      cgroups = *std::move(opened);
      options.trainer_cgroups = cgroups.get();
    }
    const auto bound = [](uint64_t bytes) {
      return bytes == 0 ? std::string("none") : tunefleet::supervisor::FormatBytes(bytes);
    };
    tunefleet::Log("worker", absl::StrCat(
        "trainer limits: address space ", bound(limits.address_space_bytes), " (CPU ranks; none with a GPU), ",
        limits.open_files, " open files, no core files; ",
        cgroups ? absl::StrCat("a cgroup each beneath ", *own_cgroup, ": memory.max ", bound(limits.memory_max_bytes),
                               ", pids.max ", limits.pids_max == 0 ? std::string("none") : absl::StrCat(limits.pids_max))
                : absl::StrCat("no cgroups, rlimits only (", opened.status().message(), ")")));
    tunefleet::worker::WorkerStatusBoard board;
    options.board = &board;
    std::shared_ptr<grpc::ServerCredentials> log_credentials = grpc::InsecureServerCredentials();
    if (!insecure) {
      auto server = tunefleet::security::ServerCredentials(tls, tunefleet::security::ClientCertificates::kRequired);
      auto client = tunefleet::security::ChannelCredentials(tls);
      if (!server.ok() || !client.ok()) {
        tunefleet::Log("worker", absl::StrCat("ERROR: TLS: ", (server.ok() ? client.status() : server.status()).ToString()));
        return 1;
      }
      log_credentials = *server;
      options.credentials = *client;
      options.coordinator_server_name = coordinator_server_name;
    }
    tunefleet::worker::LogServiceOptions log_options;
    log_options.require_coordinator = !insecure;
    tunefleet::worker::LogServiceImpl logs(options.work_dir, board, log_options);
    grpc::ServerBuilder builder;
    int log_port = 0;
    builder.AddListeningPort(log_listen, log_credentials, &log_port);
    builder.RegisterService(&logs);
    std::unique_ptr<grpc::Server> log_server = builder.BuildAndStart();
    if (!log_server || log_port == 0) {
      tunefleet::Log("worker", absl::StrCat("ERROR: cannot listen on --log-listen ", log_listen));
      return 1;
    }
    options.log_address = absl::StrCat(options.address, ":", log_port);
    std::unique_ptr<prometheus::Exposer> exposer;
    auto metrics = std::make_shared<tunefleet::worker::WorkerMetrics>(options.worker_id, board, gpus.get());
    if (!metrics_listen.empty()) {
      exposer = tunefleet::ServeMetrics(metrics_listen, metrics_port_file, metrics, "worker");
      if (!exposer) return 1;
    }
    tunefleet::Log("worker", absl::StrCat("logs served on ", options.log_address));
    tunefleet::worker::WorkerAgent agent(options);
    const int code = agent.Run(stop_signals);
    log_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    return code;
  } catch (const std::exception& e) {  // a last guard: nothing escapes main
    tunefleet::Log("worker", absl::StrCat("internal error: ", e.what()));
    return 70;
  }
}
