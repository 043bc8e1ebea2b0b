#include "tests/control_plane/cluster.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "common/security/cluster_pki.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"

namespace tunefleet::testing {
namespace {

const std::string kCoordinator = TUNEFLEET_BINARY_DIR "/coordinator/tunefleet-coordinator";
const std::string kWorker = TUNEFLEET_BINARY_DIR "/worker/tunefleet-worker";
const std::string kFakeTrainer = TUNEFLEET_BINARY_DIR "/tests/control_plane/fake-trainer";

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);  // a poll interval, not a synchronisation
  }
  return condition();
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)), dir_(FreshTestDirectory()) {
  if (options_.trainer.empty()) options_.trainer = kFakeTrainer;
  // TLS is on, as in production: the cluster's CA, certificates and admin
  // token, as `tunefleet up` makes them. A CLI the test runs finds them
  // through TUNEFLEET_CONFIG (the test process's environment, inherited).
  const absl::Status made = security::EnsureClusterPki(pki());
  EXPECT_TRUE(made.ok()) << made;
  const std::string config = dir_ + "/config";
  std::ofstream(config) << "current-context: test\ncontexts:\n  test:\n    certificate-authority: "
                        << security::ClientFiles(pki()).ca << "\n    token-file: "
                        << security::AdminTokenPath(pki()) << "\n";
  setenv("TUNEFLEET_CONFIG", config.c_str(), 1);
}

std::shared_ptr<grpc::Channel> Cluster::Channel(const std::string& token) const {
  auto tls = security::ChannelCredentials(security::ClientFiles(pki()));
  EXPECT_TRUE(tls.ok()) << tls.status();
  return grpc::CreateCustomChannel(options_.coordinator_host + ":" + std::to_string(port_), security::WithBearerToken(*tls, token),
                                   security::ServerNameArguments(security::kCoordinatorServerName));
}

std::string Cluster::AdminToken() const {
  const std::string token = security::ReadSmallFile(security::AdminTokenPath(pki())).value_or("");
  return token.substr(0, token.find('\n'));
}

std::vector<std::string> Cluster::WorkerTlsFlags(const std::string& id) const {
  const absl::Status made = security::EnsureWorkerCertificate(pki(), id);
  EXPECT_TRUE(made.ok()) << made;
  const security::TlsFiles files = security::WorkerFiles(pki(), id);
  return {"--tls-ca", files.ca, "--tls-cert", files.certificate, "--tls-key", files.private_key};
}

void Cluster::StartCoordinator(int port) {
  const std::string port_file = dir_ + "/coordinator.port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {kCoordinator, "--listen", options_.coordinator_host + ":" + std::to_string(port), "--database",
                                   dir_ + "/state.db", "--port-file", port_file, "--metrics-listen", "127.0.0.1:0",
                                   "--metrics-port-file", dir_ + "/coordinator.metrics-port"};
  const security::TlsFiles tls = security::CoordinatorFiles(pki());
  for (const std::string& flag : {std::string("--tls-ca"), tls.ca, std::string("--tls-cert"), tls.certificate,
                                  std::string("--tls-key"), tls.private_key, std::string("--tokens-file"),
                                  security::TokensPath(pki())}) {
    argv.push_back(flag);
  }
  argv.insert(argv.end(), options_.coordinator_flags.begin(), options_.coordinator_flags.end());
  coordinator_.reset();
  coordinator_.emplace(ChildProcess::Start(argv));
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(port_file); }, 10s)) << coordinator_->output();
  port_ = std::stoi(ReadFile(port_file));
  ASSERT_GT(port_, 0);
  channel_ = Channel(AdminToken());
  jobs_ = v1::JobService::NewStub(channel_);
  admin_ = v1::AdminService::NewStub(channel_);
}

void Cluster::KillCoordinator() {
  coordinator_->Signal(SIGKILL);
  ASSERT_TRUE(coordinator_->Wait(10s).has_value());
}

void Cluster::StartWorker(const std::string& id, int slots, const std::vector<std::string>& extra_flags,
                          const WorkerNetwork& network) {
  std::vector<std::string> argv = network.command_prefix;
  const std::vector<std::string> command = {
      kWorker, "--coordinator", options_.coordinator_host + ":" + std::to_string(port_), "--worker-id", id,
      "--cpu-slots", std::to_string(slots), "--trainer", options_.trainer, "--work-dir", WorkerDir(id),
      "--heartbeat-interval", options_.worker_heartbeat_interval, "--stop-grace", "2", "--address", network.address, "--log-listen",
      network.address + ":0", "--metrics-listen", "127.0.0.1:0", "--metrics-port-file",
      WorkerDir(id) + ".metrics-port", "--drain-grace", "5"};
  argv.insert(argv.end(), command.begin(), command.end());
  // CPU slots even where the host has GPUs, so the tests behave the same there.
  if (slots > 0) argv.push_back("--cpu-only");
  // Jobs of these tests read the repository's demo model and write under the
  // test's folder: the worker's roots (its trainers refuse anything else).
  std::vector<std::string> roots = {dir_, TUNEFLEET_SOURCE_DIR, TUNEFLEET_BINARY_DIR};
  roots.insert(roots.end(), options_.worker_allowed_roots.begin(), options_.worker_allowed_roots.end());
  for (const std::string& root : roots) argv.insert(argv.end(), {"--allowed-root", root});
  for (const std::string& flag : WorkerTlsFlags(id)) argv.push_back(flag);
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  auto worker = std::make_unique<ChildProcess>(ChildProcess::Start(argv));
  ChildProcess& process = *worker;
  workers_[id] = std::move(worker);
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext context;
        v1::GetWorkerRequest request;
        request.set_name("workers/" + id);
        v1::Worker w;
        return admin_->GetWorker(&context, request, &w).ok() && w.state() == v1::WORKER_STATE_READY;
      },
      10s))
      << process.output();
}

void Cluster::KillWorker(const std::string& id) {
  workers_.at(id)->Signal(SIGKILL);  // the worker's group: the worker alone
  ASSERT_TRUE(workers_.at(id)->Wait(10s).has_value());
}

void Cluster::SignalWorker(const std::string& id, int signal) { workers_.at(id)->Signal(signal); }

std::optional<int> Cluster::WaitWorker(const std::string& id, std::chrono::milliseconds timeout) {
  return workers_.at(id)->Wait(timeout);
}

std::string Cluster::WorkerLog(const std::string& id) const { return workers_.at(id)->output(); }

v1::CreateJobRequest Cluster::FakeJob(const std::string& behaviour, int world_size) const {
  v1::CreateJobRequest request;
  auto* spec = request.mutable_spec();
  spec->set_display_name("fake:" + behaviour);
  spec->mutable_model()->set_path(dir_ + "/model");
  spec->mutable_dataset()->set_path(dir_ + "/train.jsonl");
  spec->mutable_resources()->set_world_size(world_size);
  spec->mutable_checkpoint()->set_directory(dir_ + "/checkpoints");
  return request;
}

v1::Job Cluster::Submit(const v1::CreateJobRequest& request) {
  grpc::ClientContext context;
  v1::Job job;
  const grpc::Status status = jobs_->CreateJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

v1::Job Cluster::GetJob(const std::string& name) {
  grpc::ClientContext context;
  v1::GetJobRequest request;
  request.set_name(name);
  v1::Job job;
  const grpc::Status status = jobs_->GetJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

v1::Job Cluster::WaitForJob(const std::string& name, const std::function<bool(const v1::Job&)>& done,
                            std::chrono::milliseconds timeout) {
  v1::Job job;
  WaitUntil(
      [&] {
        grpc::ClientContext context;
        v1::GetJobRequest request;
        request.set_name(name);
        return jobs_->GetJob(&context, request, &job).ok() && done(job);
      },
      timeout);
  return job;
}

v1::Job Cluster::WaitForState(const std::string& name, v1::JobState state, std::chrono::milliseconds timeout) {
  v1::Job job = WaitForJob(name, [&](const v1::Job& j) { return j.state() == state; }, timeout);
  EXPECT_EQ(v1::JobState_Name(job.state()), v1::JobState_Name(state)) << EventLog(name);
  return job;
}

std::vector<v1::JobEvent> Cluster::Events(const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);  // the stream stays open while the job runs
  v1::WatchJobEventsRequest request;
  request.set_name(name);
  auto reader = jobs_->WatchJobEvents(&context, request);
  std::vector<v1::JobEvent> events;
  v1::JobEvent event;
  while (reader->Read(&event)) {
    events.push_back(event);
    if (event.state() == v1::JOB_STATE_SUCCEEDED || event.state() == v1::JOB_STATE_FAILED ||
        event.state() == v1::JOB_STATE_CANCELLED) {
      break;
    }
  }
  context.TryCancel();
  reader->Finish();
  return events;
}

std::string Cluster::EventLog(const std::string& name) {
  std::string out = "events of " + name + ":\n";
  for (const auto& event : Events(name)) {
    out += "  #" + std::to_string(event.sequence()) + " " + v1::JobState_Name(event.state()) + " " +
           event.message() + "\n";
  }
  return out;
}

v1::Worker Cluster::GetWorker(const std::string& id) {
  grpc::ClientContext context;
  v1::GetWorkerRequest request;
  request.set_name("workers/" + id);
  v1::Worker worker;
  EXPECT_TRUE(admin_->GetWorker(&context, request, &worker).ok());
  return worker;
}

}  // namespace tunefleet::testing
