// tunefleet-coordinator: takes fine-tuning jobs over gRPC and schedules them
// onto worker daemons.
//
// The main thread is also the control plane's clock: it calls Tick() every
// --tick-interval and takes SIGTERM/SIGINT synchronously (sigtimedwait), so no
// signal handler ever runs concurrently with the server.

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <prometheus/exposer.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics_endpoint.h"
#include "common/port_file.h"
#include "common/security/tls.h"
#include "coordinator/auth/audit_log.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/auth/token_table.h"
#include "common/version.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/core/worker_lease.h"
#include "coordinator/metrics/coordinator_metrics.h"
#include "coordinator/metrics/rpc_metrics_interceptor.h"
#include "coordinator/service/services.h"
#include "common/exit_codes.h"
#include "coordinator/store/sqlite_store.h"

namespace {

using tunefleet::Log;

using tunefleet::WritePortFile;

struct MetricsFlags {
  std::string listen;
  std::string port_file;
};

// Why the database was not opened, as an exit code (common/exit_codes.h):
// supervisors and operators tell "another coordinator has it" from "the file
// is not ours" without reading the log.
int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return tunefleet::exit_codes::kDatabaseInUse;
    case absl::StatusCode::kDataLoss:
      return tunefleet::exit_codes::kDatabaseRefused;
    default:
      return tunefleet::exit_codes::kFailure;
  }
}

struct SecurityFlags {
  tunefleet::security::TlsFiles tls;
  // Plaintext gRPC health only (grpc.health.v1), for probes that cannot speak
  // TLS (the kubelet's grpc probe); no other service is served there.
  std::string health_listen;
  std::string tokens_file;
  bool insecure = false;
};

int Run(const std::string& listen, const std::string& database, tunefleet::store::SqliteOptions store_options,
        const std::string& port_file, const MetricsFlags& metrics_flags, const SecurityFlags& security,
        tunefleet::coordinator::ControlPlaneOptions options, tunefleet::coordinator::StreamLimits streams,
        int max_worker_streams, absl::Duration tick) {
  // Block the stop signals in every thread (gRPC's inherit the mask); the
  // main loop takes them with sigtimedwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  store_options.log = [](const std::string& message) { Log("coordinator", message); };
  auto store = tunefleet::store::OpenSqliteStore(database, std::move(store_options));
  if (!store.ok()) {
    Log("coordinator", absl::StrCat("ERROR: ", store.status().ToString()));
    return ExitCodeFor(store.status());
  }
  auto metrics = std::make_shared<tunefleet::coordinator::CoordinatorMetrics>();
  options.on_placed = [metrics](absl::Duration wait) { metrics->ObserveQueueWait(wait); };
  options.on_placement_pass = [metrics](absl::Duration pass) { metrics->ObservePlacementPass(pass); };
  auto plane = tunefleet::coordinator::ControlPlane::Create(std::move(*store), std::move(options));
  if (!plane.ok()) {
    Log("coordinator", absl::StrCat("ERROR loading state from ", database, ": ", plane.status().ToString()));
    return ExitCodeFor(plane.status());
  }
  // Sweeps read back before the first Tick, so their running limits hold from the start.
  auto sweeps = tunefleet::coordinator::sweeps::SweepManager::Create(**plane);
  if (!sweeps.ok()) {
    Log("coordinator", absl::StrCat("ERROR loading sweeps from ", database, ": ", sweeps.status().ToString()));
    return ExitCodeFor(sweeps.status());
  }
  namespace auth = tunefleet::coordinator::auth;
  std::shared_ptr<grpc::ServerCredentials> server_credentials = grpc::InsecureServerCredentials();
  std::shared_ptr<grpc::ChannelCredentials> log_credentials;  // null: plaintext to workers' log services
  auth::TokenTable tokens;
  if (!security.insecure) {
    auto server = tunefleet::security::ServerCredentials(security.tls, tunefleet::security::ClientCertificates::kOptional);
    auto client = tunefleet::security::ChannelCredentials(security.tls);
    if (!server.ok() || !client.ok()) {
      Log("coordinator", absl::StrCat("ERROR: TLS: ", (server.ok() ? client.status() : server.status()).ToString()));
      return 1;
    }
    server_credentials = *server;
    log_credentials = *client;
    if (!security.tokens_file.empty()) {
      auto loaded = auth::TokenTable::Load(security.tokens_file);
      if (!loaded.ok()) {
        Log("coordinator", absl::StrCat("ERROR: --tokens-file: ", loaded.status().ToString()));
        return 1;
      }
      tokens = *std::move(loaded);
    }
  }
  auto audit = auth::AuditLog::Open(database);
  if (!audit.ok()) {
    Log("coordinator", absl::StrCat("ERROR: ", audit.status().ToString()));
    return 1;
  }
  const auth::Authorizer authorizer(std::move(tokens), security.insecure, audit->get());
  tunefleet::coordinator::JobServiceImpl jobs(**plane, authorizer, log_credentials, streams);
  tunefleet::coordinator::WorkerServiceImpl workers(**plane, authorizer,
                                                    tunefleet::coordinator::StreamLimits{2, max_worker_streams});
  tunefleet::coordinator::AdminServiceImpl admin(**plane, authorizer);
  tunefleet::coordinator::SweepServiceImpl sweep_service(**sweeps, authorizer);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, server_credentials, &port);
  builder.RegisterService(&jobs);
  builder.RegisterService(&workers);
  builder.RegisterService(&admin);
  builder.RegisterService(&sweep_service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<tunefleet::coordinator::RpcMetricsInterceptorFactory>(
      tunefleet::coordinator::RpcMethodLabels({tunefleet::v1::JobService::service_full_name(),
                                               tunefleet::v1::WorkerService::service_full_name(),
                                               tunefleet::v1::AdminService::service_full_name(),
                                               tunefleet::v1::SweepService::service_full_name()}),
      [metrics](const std::string& method, grpc::StatusCode code, absl::Duration duration) {
        metrics->ObserveRpc(method, code, duration);
      }));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    Log("coordinator", absl::StrCat("ERROR: cannot listen on ", listen));
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  if (!port_file.empty() && !WritePortFile(port_file, port)) {
    Log("coordinator", absl::StrCat("ERROR: cannot write --port-file ", port_file));
    return 1;
  }
  Log("coordinator", absl::StrCat("listening on ", host, ":", port, security.insecure ? " WITHOUT TLS (--insecure)" : " (TLS)",
                                  " (database ", database, ")"));
  std::unique_ptr<grpc::Server> health_server;
  if (!security.health_listen.empty()) {
    grpc::ServerBuilder health_builder;
    int health_port = 0;
    health_builder.AddListeningPort(security.health_listen, grpc::InsecureServerCredentials(), &health_port);
    health_server = health_builder.BuildAndStart();
    if (!health_server || health_port == 0) {
      Log("coordinator", absl::StrCat("ERROR: cannot listen on --health-listen ", security.health_listen));
      return 1;
    }
  }
  metrics->Attach(plane->get());
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!metrics_flags.listen.empty()) {
    exposer = tunefleet::ServeMetrics(metrics_flags.listen, metrics_flags.port_file, metrics, "coordinator");
    if (!exposer) return 1;
  }

  timespec interval{};
  interval.tv_sec = absl::ToInt64Seconds(tick);
  interval.tv_nsec = absl::ToInt64Nanoseconds(tick - absl::Seconds(interval.tv_sec));
  // Placement on a thread of its own: a submission (or a freed slot) wakes
  // it at once; the ticks below keep the timeouts, drains and retries.
  std::atomic<bool> placing{true};
  std::thread placement([&plane, &placing] {
    while (placing.load()) {
      (*plane)->RunPlacementPass(absl::Milliseconds(200));
    }
  });
  while (true) {
    const absl::Time pass_start = absl::Now();
    (*plane)->Tick();
    metrics->ObserveSchedulingPass(absl::Now() - pass_start);
    siginfo_t info;
    const int signal = sigtimedwait(&stop_signals, &info, &interval);
    if (signal == SIGTERM || signal == SIGINT) {
      Log("coordinator", absl::StrCat("signal ", signal, ": shutting down"));
      break;
    }
  }
  placing.store(false);
  placement.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (health_server) health_server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-coordinator: schedules fine-tuning jobs onto tunefleet workers"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  std::string listen = "127.0.0.1:50051";
  std::string database = "tunefleet.db";
  std::string port_file;
  double heartbeat_s = 3, worker_timeout_s = 15, backoff_s = 2, backoff_max_s = 120, reserve_after_s = 300;
  double drain_deadline_s = 300, tick_s = 0.2;
  double hang_multiplier = 10, hang_floor_s = 120, hang_startup_s = 600;
  size_t metrics_history = 10000;
  tunefleet::coordinator::ControlPlaneOptions defaults;
  size_t metrics_history_job_bytes = defaults.metrics_history_job_bytes;
  size_t metrics_history_bytes = defaults.metrics_history_bytes;
  double metrics_rate = defaults.metrics_rate_per_rank, metrics_burst = defaults.metrics_burst_per_rank;
  int64_t max_active_jobs_per_user = defaults.max_active_jobs_per_user;
  tunefleet::coordinator::StreamLimits streams;
  int max_worker_streams = 10000;
  double finished_job_retention_s = absl::ToDoubleSeconds(defaults.finished_job_retention);
  double gone_worker_retention_s = absl::ToDoubleSeconds(defaults.gone_worker_retention);
  std::vector<std::string> allowed_path_roots;
  MetricsFlags metrics_flags;
  bool init = false;
  std::string bad_rows = "refuse";
  SecurityFlags security;
  app.add_option("--listen", listen, "gRPC listen address (port 0 picks a free port)")->capture_default_str();
  app.add_option("--database", database, "SQLite database file for durable state")->capture_default_str();
  app.add_flag("--init", init,
               "Create a new database in a zero-length or empty --database file (a missing one is always created)");
  app.add_option("--bad-rows", bad_rows,
                 "A stored row that does not read back: refuse to start (exit 65), or quarantine it (moved to "
                 "the quarantine table, logged) and start without it")
      ->check(CLI::IsMember({"refuse", "quarantine"}))
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound port here once listening (for --listen ...:0)");
  app.add_option("--heartbeat-interval", heartbeat_s, "Seconds between worker heartbeats (told to workers)")
      ->capture_default_str();
  app.add_option("--worker-timeout", worker_timeout_s, "Seconds without a heartbeat before a worker is LOST")
      ->capture_default_str();
  app.add_option("--restart-backoff", backoff_s, "Seconds before a requeued job's 2nd attempt; doubles after")
      ->capture_default_str();
  app.add_option("--restart-backoff-max", backoff_max_s, "Cap on the restart backoff, seconds")
      ->capture_default_str();
  app.add_option("--reserve-after", reserve_after_s,
                 "Seconds a job that does not fit may be overtaken by smaller ones before it reserves the cluster")
      ->capture_default_str();
  app.add_option("--drain-deadline", drain_deadline_s, "Default drain deadline, seconds")->capture_default_str();
  app.add_option("--tick-interval", tick_s, "Seconds between scheduling and liveness passes")->capture_default_str();
  app.add_option("--hang-multiplier", hang_multiplier,
                 "A rank is hung after this many times its recent step time without a step")
      ->capture_default_str();
  app.add_option("--hang-floor", hang_floor_s, "Seconds: the least time without a step before a rank is hung")
      ->capture_default_str();
  app.add_option("--hang-startup", hang_startup_s, "Seconds a rank may take to reach its first step")
      ->capture_default_str();
  app.add_option("--allowed-path-roots", allowed_path_roots,
                 "Comma-separated folders every path of a job spec must lie under, by spelling and, where the "
                 "path exists here, by its real path (empty: any path but /, /etc, /proc, /sys, /dev, which are "
                 "always refused). Workers enforce their own roots when trainers open the paths")
      ->delimiter(',');
  app.add_option("--metrics-history", metrics_history, "Metric samples kept in memory per job for WatchJobMetrics")
      ->capture_default_str();
  app.add_option("--metrics-history-job-bytes", metrics_history_job_bytes,
                 "Bytes of metric samples kept per job: in memory (older points thinned) and in the database (oldest dropped)")
      ->capture_default_str();
  app.add_option("--metrics-history-bytes", metrics_history_bytes,
                 "Bytes of metric samples kept in memory across all jobs; past it the largest history is thinned")
      ->capture_default_str();
  app.add_option("--metrics-rate-per-rank", metrics_rate,
                 "Metric samples a second one rank may report on average; past it they are dropped and counted "
                 "(tunefleet_metric_samples_dropped_total). 0: no limit")
      ->capture_default_str();
  app.add_option("--metrics-burst-per-rank", metrics_burst, "Metric samples one rank may report at once")
      ->capture_default_str();
  app.add_option("--max-active-jobs-per-user", max_active_jobs_per_user,
                 "Jobs one user may have queued or running at once (0: no quota)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--finished-job-retention", finished_job_retention_s,
                 "Seconds a finished job stays in memory; after, it is served from the database")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--gone-worker-retention", gone_worker_retention_s,
                 "Seconds a LOST worker stays in the registry (and /metrics) before it is forgotten")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-streams-per-user", streams.per_caller,
                 "Watch and log streams one caller may hold open at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-streams", streams.total, "Watch and log streams open at once, all callers together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-worker-streams", max_worker_streams,
                 "Workers' WatchAssignments streams open at once (one per worker; past it a worker gets its "
                 "assignments on heartbeats only)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--metrics-listen", metrics_flags.listen,
                 "Serve Prometheus /metrics here (e.g. 0.0.0.0:9464; port 0 picks one; empty: off)");
  app.add_option("--metrics-port-file", metrics_flags.port_file, "Write the bound /metrics port here");
  app.add_option("--tls-ca", security.tls.ca, "The cluster CA (PEM): worker certificates must chain to it");
  app.add_option("--tls-cert", security.tls.certificate,
                 "The coordinator's certificate (PEM; names tunefleet-coordinator; also its client certificate "
                 "to workers' log services)");
  app.add_option("--tls-key", security.tls.private_key, "The coordinator's private key (PEM)");
  app.add_option("--tokens-file", security.tokens_file,
                 "Users: \"<sha256 of token> <user> <viewer|submitter|operator|admin>\" per line (empty: no users)");
  app.add_option("--health-listen", security.health_listen,
                 "Serve plaintext gRPC health checks only, here (for kubelet grpc probes; empty: off)");
  app.add_flag("--insecure", security.insecure,
               "No TLS and no authentication (anyone who connects is admin): only with a loopback --listen");
  CLI11_PARSE(app, argc, argv);
  if (security.insecure && !tunefleet::security::IsLoopback(listen)) {
    std::cerr << "tunefleet-coordinator: --insecure is only for a loopback --listen, not " << listen << "\n";
    return 2;
  }
  if (!security.insecure &&
      (security.tls.ca.empty() || security.tls.certificate.empty() || security.tls.private_key.empty())) {
    std::cerr << "tunefleet-coordinator: TLS is on: pass --tls-ca, --tls-cert and --tls-key (tunefleet up makes them), "
                 "or --insecure with a loopback --listen\n";
    return 2;
  }

  tunefleet::coordinator::ControlPlaneOptions options;
  options.heartbeat_interval = absl::Seconds(heartbeat_s);
  options.worker_timeout = absl::Seconds(worker_timeout_s);
  // Self-fencing needs a lease that ends before the timeout and outlasts a late heartbeat.
  auto lease = tunefleet::coordinator::WorkerLease(options.worker_timeout, options.heartbeat_interval);
  if (!lease.ok()) {
    std::cerr << "tunefleet-coordinator: " << lease.status().message() << "\n";
    return 2;
  }
  tunefleet::Log("coordinator", absl::StrCat("workers' lease ", absl::FormatDuration(*lease), ": a worker cut off ",
                                             "that long has killed its trainers; LOST after ",
                                             absl::FormatDuration(options.worker_timeout)));
  options.backoff.initial = absl::Seconds(backoff_s);
  options.backoff.max = absl::Seconds(backoff_max_s);
  options.scheduling.reserve_after = absl::Seconds(reserve_after_s);
  options.default_drain_deadline = absl::Seconds(drain_deadline_s);
  try {
    options.hang_multiplier = hang_multiplier;
    options.hang_floor = absl::Seconds(hang_floor_s);
    options.hang_startup = absl::Seconds(hang_startup_s);
    options.metrics_history = metrics_history;
    options.metrics_history_job_bytes = metrics_history_job_bytes;
    options.metrics_history_bytes = metrics_history_bytes;
    options.metrics_rate_per_rank = metrics_rate;
    options.metrics_burst_per_rank = metrics_burst;
    options.max_active_jobs_per_user = max_active_jobs_per_user;
    options.finished_job_retention = absl::Seconds(finished_job_retention_s);
    options.gone_worker_retention = absl::Seconds(gone_worker_retention_s);
    options.allowed_path_roots = allowed_path_roots;
    tunefleet::store::SqliteOptions store_options;
    store_options.init = init;
    store_options.bad_rows =
        bad_rows == "quarantine" ? tunefleet::store::BadRowPolicy::kQuarantine : tunefleet::store::BadRowPolicy::kRefuse;
    return Run(listen, database, std::move(store_options), port_file, metrics_flags, security, std::move(options),
               streams, max_worker_streams, absl::Seconds(tick_s));
  } catch (const std::exception& e) {  // a last guard: nothing escapes main
    Log("coordinator", absl::StrCat("internal error: ", e.what()));
    return tunefleet::exit_codes::kInternalError;
  }
}
