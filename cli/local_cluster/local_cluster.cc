#include "cli/local_cluster/local_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands/cluster_config.h"
#include "cli/local_cluster/daemon.h"
#include "common/fs/atomic_file.h"
#include "common/security/cluster_pki.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"
#include "tunefleet/v1/admin_service.grpc.pb.h"

namespace tunefleet::cli {

namespace fs = std::filesystem;

// A sibling binary of the build tree (build/cli/tunefleet -> build/coordinator/
// tunefleet-coordinator) or of an install (bin/tunefleet -> bin/tunefleet-coordinator).
std::string FindSiblingBinary(const std::string& folder, const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path dir = self.parent_path();
  for (const fs::path& candidate : {dir.parent_path() / folder / name, dir / name}) {
    if (fs::exists(candidate)) return candidate.string();
  }
  return (dir.parent_path() / folder / name).string();  // named in the error if missing
}

namespace {

bool StopRequested(const sigset_t& signals, int& which) {
  const timespec zero{};
  siginfo_t info;
  which = sigtimedwait(&signals, &info, &zero);
  return which == SIGINT || which == SIGTERM;
}

// How many of our workers are READY. One that comes back DRAINED (it drained
// itself when the previous `up` stopped it, and the coordinator's database
// remembers) is uncordoned: a fresh `up` means fresh workers.
int ReadyWorkers(v1::AdminService::Stub& admin, const std::vector<std::string>& ids) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::ListWorkersRequest request;
  request.set_page_size(1000);
  v1::ListWorkersResponse response;
  if (!admin.ListWorkers(&context, request, &response).ok()) return 0;
  int ready = 0;
  for (const auto& w : response.workers()) {
    if (std::find(ids.begin(), ids.end(), w.name().substr(w.name().find('/') + 1)) == ids.end()) continue;
    if (w.state() == v1::WORKER_STATE_READY) {
      ++ready;
    } else if (w.state() == v1::WORKER_STATE_DRAINED || w.state() == v1::WORKER_STATE_CORDONED) {
      grpc::ClientContext uncordon_context;
      uncordon_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::UncordonWorkerRequest uncordon;
      uncordon.set_name(w.name());
      v1::Worker updated;
      if (admin.UncordonWorker(&uncordon_context, uncordon, &updated).ok()) {
        std::cout << "  " << w.name() << " was " << v1::WorkerState_Name(w.state())
                  << " from the previous run: uncordoned" << std::endl;
      }
    }
  }
  return ready;
}

void StopAll(std::vector<Daemon>& daemons) {
  // Workers first: each stops its trainers; then the coordinator.
  for (size_t i = daemons.size(); i-- > 0;) {
    const int code = daemons[i].Stop(i == 0 ? 5 : 15);
    std::cout << "  stopped " << daemons[i].label() << " (pid " << daemons[i].pid() << ", exit " << code << ")"
              << std::endl;
  }
}

}  // namespace

int RunLocalCluster(LocalClusterOptions o) {
  if (o.coordinator_binary.empty()) o.coordinator_binary = FindSiblingBinary("coordinator", "tunefleet-coordinator");
  if (o.worker_binary.empty()) o.worker_binary = FindSiblingBinary("worker", "tunefleet-worker");
  if (o.trainer_binary.empty()) o.trainer_binary = FindSiblingBinary("trainer", "tunefleet-trainer");
  for (const auto& binary : {o.coordinator_binary, o.worker_binary}) {
    if (access(binary.c_str(), X_OK) != 0) {
      std::cerr << "tunefleet: NOT_FOUND: " << binary << " is not an executable (build it, or pass its path)\n";
      return 1;
    }
  }
  if (access(o.trainer_binary.c_str(), X_OK) != 0) {
    std::cerr << "tunefleet up: warning: no trainer at " << o.trainer_binary << "; jobs will fail until it is built\n";
  }
  const fs::path state = fs::absolute(o.state_dir);
  const fs::path logs = state / "logs", checkpoints = state / "checkpoints", workers_dir = state / "workers";
  for (const auto& dir : {logs, checkpoints, workers_dir}) fs::create_directories(dir);
  const fs::path port_file = state / "coordinator.port", address_file = state / "coordinator.address";
  const std::string pki = (state / "pki").string();
  if (o.insecure && !security::IsLoopback(o.listen)) {
    std::cerr << "tunefleet: INVALID_ARGUMENT: --insecure is only for a loopback --listen, not " << o.listen << "\n";
    return 1;
  }
  std::vector<std::string> worker_ids;
  for (int i = 1; i <= o.workers; ++i) worker_ids.push_back(absl::StrCat("local-", i));
  if (!o.insecure) {
    absl::Status made = security::EnsureClusterPki(pki);
    for (const std::string& id : worker_ids) {
      if (made.ok()) made = security::EnsureWorkerCertificate(pki, id);
    }
    if (!made.ok()) {
      std::cerr << "tunefleet: making the cluster's certificates in " << pki << ": " << made << "\n";
      return 1;
    }
  }
  auto tls_flags = [&](const security::TlsFiles& files) -> std::vector<std::string> {
    if (o.insecure) return {"--insecure"};
    return {"--tls-ca", files.ca, "--tls-cert", files.certificate, "--tls-key", files.private_key};
  };
  fs::remove(port_file);
  fs::remove(address_file);

  // Stop signals are taken synchronously (sigtimedwait) from here on, so a
  // Ctrl-C during startup still stops whatever has started.
  // A shell starts background jobs with SIGINT ignored, and an ignored signal
  // is discarded even while blocked: restore the default so it stays pending.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int signal_number = 0;

  std::vector<Daemon> daemons;
  auto fail = [&](const std::string& message, const Daemon* culprit) {
    std::cerr << "tunefleet: " << message << "\n";
    if (culprit) std::cerr << "--- " << culprit->log_path() << " (end) ---\n" << culprit->LogTail() << "\n";
    StopAll(daemons);
    return 1;
  };

  // Jobs' paths: beneath the state dir and the given roots, never in the
  // cluster's own files (keys and tokens, other jobs' logs, the database).
  std::vector<std::string> roots = {state.string()};
  if (o.allowed_roots.empty()) o.allowed_roots.push_back(fs::current_path().string());
  for (const std::string& root : o.allowed_roots) roots.push_back(fs::absolute(root).lexically_normal().string());
  std::vector<std::string> denied;
  for (const char* name : {"pki", "workers", "logs", "coordinator.db", "coordinator.db-wal", "coordinator.db-shm",
                           "coordinator.db-journal"}) {
    denied.push_back((state / name).string());
  }
  std::vector<std::string> coordinator_argv = {o.coordinator_binary, "--listen", o.listen, "--database",
                                               (state / "coordinator.db").string(), "--port-file", port_file.string()};
  if (!o.allow_any_path) coordinator_argv.push_back("--allowed-path-roots=" + absl::StrJoin(roots, ","));
  for (const std::string& flag : tls_flags(security::CoordinatorFiles(pki))) coordinator_argv.push_back(flag);
  if (!o.insecure) {
    coordinator_argv.push_back("--tokens-file");
    coordinator_argv.push_back(security::TokensPath(pki));
  }
  auto coordinator = Daemon::Start("coordinator", coordinator_argv,
                                   (logs / "coordinator.log").string(), SIGTERM);
  if (!coordinator.ok()) return fail(coordinator.status().ToString(), nullptr);
  daemons.push_back(*std::move(coordinator));
  const absl::Time deadline = absl::Now() + absl::Seconds(o.startup_timeout_s);
  while (!fs::exists(port_file)) {
    if (daemons[0].Poll()) return fail("the coordinator exited during startup", &daemons[0]);
    if (StopRequested(stop, signal_number)) return fail("stopped during startup", nullptr);
    if (absl::Now() > deadline) return fail("the coordinator did not start listening in time", &daemons[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string port;
  std::ifstream(port_file) >> port;
  const std::string address = o.listen.substr(0, o.listen.rfind(':')) + ":" + port;

  for (const std::string& id : worker_ids) {
    // --cpu-only: CPU slots as asked, even on a GPU machine.
    std::vector<std::string> argv = {o.worker_binary, "--coordinator", address, "--worker-id", id, "--cpu-only",
                                     "--cpu-slots", absl::StrCat(o.cpu_slots), "--address", "127.0.0.1", "--trainer",
                                     o.trainer_binary, "--work-dir", (workers_dir / id).string(),
                                     "--heartbeat-interval", "1", "--stop-grace", "5"};
    for (const std::string& flag : tls_flags(security::WorkerFiles(pki, id))) argv.push_back(flag);
    for (const std::string& root : roots) argv.insert(argv.end(), {"--allowed-root", root});
    for (const std::string& path : denied) argv.insert(argv.end(), {"--denied-path", path});
    if (o.allow_any_path) argv.push_back("--allow-any-path");
    auto worker = Daemon::Start("worker " + id, argv,
                                // If `up` dies outright, a worker must not wait minutes to
                                // self-drain to a coordinator that is gone too: SIGKILL (its
                                // trainers die with it, by their own PDEATHSIG).
                                (logs / (id + ".log")).string(), SIGKILL);
    if (!worker.ok()) return fail(worker.status().ToString(), nullptr);
    daemons.push_back(*std::move(worker));
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  if (!o.insecure) {
    auto tls = security::ChannelCredentials(security::ClientFiles(pki));
    auto token = security::ReadSmallFile(security::AdminTokenPath(pki));
    if (!tls.ok() || !token.ok()) return fail("reading the CA or the admin token in " + pki, nullptr);
    channel = grpc::CreateCustomChannel(address, security::WithBearerToken(*tls, token->substr(0, token->find('\n'))),
                                        security::ServerNameArguments(security::kCoordinatorServerName));
  }
  auto admin = v1::AdminService::NewStub(channel);
  while (ReadyWorkers(*admin, worker_ids) < o.workers) {
    for (auto& d : daemons) {
      if (d.Poll()) return fail(d.label() + " exited during startup", &d);
    }
    if (StopRequested(stop, signal_number)) return fail("stopped during startup", nullptr);
    if (absl::Now() > deadline) return fail("the workers did not become READY in time", &daemons.back());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::cout << "tunefleet: local cluster up\n"
            << "  coordinator  " << address << " (pid " << daemons[0].pid() << ")\n";
  for (size_t i = 1; i < daemons.size(); ++i) {
    std::cout << "  " << daemons[i].label() << "  " << o.cpu_slots << " CPU slot(s) (pid " << daemons[i].pid()
              << ")\n";
  }
  std::cout << "  database     " << (state / "coordinator.db").string() << "\n"
            << "  checkpoints  " << checkpoints.string() << "   (--set checkpoint.directory=...)\n"
            << "  worker dirs  " << workers_dir.string() << "/<id>   (rank logs, metrics)\n"
            << "  logs         " << logs.string() << "/\n"
            << "  trainer      " << o.trainer_binary << "\n"
            << "  job paths    "
            << (o.allow_any_path ? std::string("anywhere (--allow-any-path)")
                                 : absl::StrCat("beneath ", absl::StrJoin(roots, ", "), " (--allowed-root)"))
            << "\n"
            << (o.insecure ? "  security     NONE (--insecure): anyone on this machine may call\n"
                           : "  credentials  " + pki + "/ (CA, certificates, admin.token: 0600)\n");
  if (!o.insecure && !o.config_path.empty()) {
    if (auto s = WriteContext(o.config_path, state.string(), StateDirContext(state.string(), address)); s.ok()) {
      std::cout << "  config       " << o.config_path << " (current context: this cluster)\n";
    } else {
      std::cerr << "tunefleet up: warning: " << s << "\n";
    }
  }
  std::cout << "Use it:  export TUNEFLEET_COORDINATOR=" << address << (o.insecure ? "  (and tunefleet --insecure)" : "")
            << "\n"
            << "Ctrl-C stops everything." << std::endl;
  // Written last and atomically: its existence means "ready" to scripts.
  if (auto s = WriteFileAtomically(address_file.string(), address + "\n"); !s.ok()) {
    return fail(absl::StrCat("writing ", address_file.string(), ": ", s.message()), nullptr);
  }

  int exit_code = 0;
  while (true) {
    const timespec tick{0, 200'000'000};
    siginfo_t info;
    signal_number = sigtimedwait(&stop, &info, &tick);
    if (signal_number == SIGINT || signal_number == SIGTERM) {
      std::cout << "\ntunefleet: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ": stopping the cluster"
                << std::endl;
      break;
    }
    bool died = false;
    for (auto& d : daemons) {
      if (auto code = d.Poll()) {
        std::cerr << "tunefleet: " << d.label() << " exited (code " << *code << "); stopping the cluster; see "
                  << d.log_path() << "\n";
        died = true;
        exit_code = 1;
      }
    }
    if (died) break;
  }
  fs::remove(address_file);
  StopAll(daemons);
  fs::remove(port_file);
  std::cout << "tunefleet: local cluster stopped" << std::endl;
  return exit_code;
}

}  // namespace tunefleet::cli
