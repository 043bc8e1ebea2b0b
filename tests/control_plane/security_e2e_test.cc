// Tests that try to get in, against a real coordinator and workers with TLS
// on: a made-up worker, a stolen name, a hijacked session, forged metrics, a
// certificate from another CA or out of date, and every RPC called by every
// role and by nobody. Each is refused (UNAUTHENTICATED / PERMISSION_DENIED,
// or the TLS handshake), nothing is stored, and the live worker's job keeps running.

#include <functional>
#include <map>
#include <string>

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include "common/security/cluster_pki.h"
#include "common/security/pki.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"
#include "tests/control_plane/cluster.h"
#include "tunefleet/v1/sweep_service.grpc.pb.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace tunefleet::testing {
namespace {

std::chrono::system_clock::time_point Soon() { return std::chrono::system_clock::now() + std::chrono::seconds(5); }

// Writes `pem` as <dir>/<name>.pem/.key and returns the files with the cluster CA.
security::TlsFiles Save(const std::string& ca, const std::string& dir, const std::string& name,
                        const security::Pem& pem) {
  const std::string stem = dir + "/" + name;
  EXPECT_TRUE(security::WriteFileAtomically(stem + ".pem", pem.certificate, 0600).ok());
  EXPECT_TRUE(security::WriteFileAtomically(stem + ".key", pem.private_key, 0600).ok());
  return {ca, stem + ".pem", stem + ".key"};
}

class Security : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* role : {"viewer", "submitter", "operator"}) {
      tokens_[role] = *security::AddUserToken(cluster_.pki(), std::string(role) + "-user", role);
    }
    tokens_["alice"] = *security::AddUserToken(cluster_.pki(), "alice", "submitter");
    tokens_["admin"] = cluster_.AdminToken();
    cluster_.StartCoordinator();
    cluster_.StartWorker("w1");
  }

  // A channel presenting a client certificate (a worker's, or a forged one).
  std::shared_ptr<grpc::Channel> CertChannel(const security::TlsFiles& files) {
    auto credentials = security::ChannelCredentials(files);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(cluster_.port()), *credentials,
                                     security::ServerNameArguments(security::kCoordinatorServerName));
  }
  std::unique_ptr<v1::WorkerService::Stub> WorkerStub(const security::TlsFiles& files) {
    return v1::WorkerService::NewStub(CertChannel(files));
  }
  security::TlsFiles WorkerFiles(const std::string& id) {
    EXPECT_TRUE(security::EnsureWorkerCertificate(cluster_.pki(), id).ok());
    return security::WorkerFiles(cluster_.pki(), id);
  }
  security::Pem Authority() {
    return {*security::ReadSmallFile(cluster_.pki() + "/ca.pem"), *security::ReadSmallFile(cluster_.pki() + "/ca.key")};
  }
  grpc::Status Register(v1::WorkerService::Stub& stub, const std::string& id, v1::RegisterWorkerResponse* out) {
    grpc::ClientContext context;
    context.set_deadline(Soon());
    v1::RegisterWorkerRequest request;
    request.set_worker_id(id);
    request.mutable_resources()->set_cpu_slots(8);
    return stub.RegisterWorker(&context, request, out);
  }
  // A job running on w1, whose state must survive every attack.
  v1::Job RunningJob() {
    const v1::Job job = cluster_.Submit(cluster_.FakeJob("hang"));
    return cluster_.WaitForState(job.name(), v1::JOB_STATE_RUNNING);
  }
  void ExpectUntouched(const v1::Job& before) {
    const v1::Job now = cluster_.GetJob(before.name());
    EXPECT_EQ(now.state(), v1::JOB_STATE_RUNNING) << cluster_.EventLog(before.name());
    EXPECT_EQ(now.generation(), before.generation());
    EXPECT_EQ(cluster_.GetWorker("w1").state(), v1::WORKER_STATE_READY);
  }
  bool WorkerKnown(const std::string& id) {
    grpc::ClientContext context;
    v1::GetWorkerRequest request;
    request.set_name("workers/" + id);
    v1::Worker worker;
    return cluster_.admin().GetWorker(&context, request, &worker).ok();
  }

  Cluster cluster_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(Security, MadeUpWorkerWithoutACertificateIsUnauthenticated) {
  const v1::Job job = RunningJob();
  auto stub = WorkerStub(security::ClientFiles(cluster_.pki()));  // TLS, no client certificate, no token
  v1::RegisterWorkerResponse response;
  EXPECT_EQ(Register(*stub, "ghost", &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A user's token does not make a worker either.
  auto as_admin = v1::WorkerService::NewStub(cluster_.Channel(tokens_["admin"]));
  EXPECT_EQ(Register(*as_admin, "ghost", &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(WorkerKnown("ghost"));
  ExpectUntouched(job);
}

TEST_F(Security, AWorkerCannotRegisterUnderAnotherWorkersName) {
  const v1::Job job = RunningJob();
  auto evil = WorkerStub(WorkerFiles("evil"));
  v1::RegisterWorkerResponse response;
  const grpc::Status status = Register(*evil, "w1", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_TRUE(response.session().empty());
  ExpectUntouched(job);
}

TEST_F(Security, ASecondCertificateForALiveNameIsRefused) {
  const v1::Job job = RunningJob();
  security::CertificateRequest request;  // the same CA, the same name, another key
  request.common_name = "w1";
  request.unit = security::kWorkerUnit;
  request.dns_names = {"w1"};
  auto pem = security::IssueCertificate(Authority(), request);
  ASSERT_TRUE(pem.ok()) << pem.status();
  auto twin = WorkerStub(Save(cluster_.pki() + "/ca.pem", cluster_.dir(), "twin", *pem));
  v1::RegisterWorkerResponse response;
  const grpc::Status status = Register(*twin, "w1", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  ExpectUntouched(job);
}

TEST_F(Security, HijackedSessionAndForgedMetricsAreRefused) {
  const v1::Job job = RunningJob();
  // w2 is a real worker of the cluster, but the job is not on it.
  auto w2 = WorkerStub(WorkerFiles("w2"));
  v1::RegisterWorkerResponse registered;
  ASSERT_TRUE(Register(*w2, "w2", &registered).ok());
  {  // w2 heartbeats in w1's name (with any session): refused by name
    grpc::ClientContext context;
    v1::HeartbeatRequest request;
    request.set_worker_id("w1");
    request.set_session(registered.session());
    v1::HeartbeatResponse response;
    EXPECT_EQ(w2->Heartbeat(&context, request, &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  v1::ReportMetricsRequest forged;
  forged.set_worker_id("w2");
  forged.set_generation(job.generation());
  v1::MetricSample* sample = forged.add_samples();
  sample->set_job(job.name());
  sample->set_rank(0);
  sample->set_step(999999);
  (*sample->mutable_values())["train_loss"] = 0.0001;
  (*sample->mutable_values())["total_steps"] = 1e300;
  {  // an old or made-up session
    grpc::ClientContext context;
    forged.set_session("0123456789abcdef0123456789abcdef");
    v1::ReportMetricsResponse response;
    EXPECT_EQ(w2->ReportMetrics(&context, forged, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {  // its own session, but the rank is w1's
    grpc::ClientContext context;
    forged.set_session(registered.session());
    v1::ReportMetricsResponse response;
    EXPECT_EQ(w2->ReportMetrics(&context, forged, &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {  // in w1's name
    grpc::ClientContext context;
    forged.set_worker_id("w1");
    v1::ReportMetricsResponse response;
    EXPECT_EQ(w2->ReportMetrics(&context, forged, &response).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  const v1::Job after = cluster_.GetJob(job.name());
  EXPECT_LT(after.progress().step(), 999999) << "a forged step was stored";
  EXPECT_NE(after.progress().total_steps(), static_cast<int64_t>(1e18));
  ExpectUntouched(job);
}

TEST_F(Security, CertificateFromAnotherCaFailsTheHandshake) {
  const std::string other = cluster_.dir() + "/other";
  ASSERT_TRUE(security::EnsureClusterPki(other).ok());
  ASSERT_TRUE(security::EnsureWorkerCertificate(other, "w9").ok());
  security::TlsFiles files = security::WorkerFiles(other, "w9");
  files.ca = cluster_.pki() + "/ca.pem";  // trusts the real coordinator, presents a stranger's certificate
  auto stub = WorkerStub(files);
  v1::RegisterWorkerResponse response;
  const grpc::Status status = Register(*stub, "w9", &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << "refused in the handshake: " << status.error_message();
  EXPECT_FALSE(WorkerKnown("w9"));
}

TEST_F(Security, ExpiredCertificateFailsTheHandshake) {
  security::CertificateRequest request;
  request.common_name = "w8";
  request.unit = security::kWorkerUnit;
  request.not_before = absl::Now() - absl::Hours(48);
  request.not_after = absl::Now() - absl::Hours(24);
  auto pem = security::IssueCertificate(Authority(), request);
  ASSERT_TRUE(pem.ok()) << pem.status();
  auto stub = WorkerStub(Save(cluster_.pki() + "/ca.pem", cluster_.dir(), "expired", *pem));
  v1::RegisterWorkerResponse response;
  const grpc::Status status = Register(*stub, "w8", &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_FALSE(WorkerKnown("w8"));
}

TEST_F(Security, PlaintextClientsCannotConnect) {
  auto plain = v1::JobService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(cluster_.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(Soon());
  v1::ListJobsResponse response;
  EXPECT_FALSE(plain->ListJobs(&context, v1::ListJobsRequest(), &response).ok());
}

TEST_F(Security, OnlyTheOwnerOrAnOperatorCancelsASweep) {
  auto alice = v1::SweepService::NewStub(cluster_.Channel(tokens_["alice"]));
  auto bob = v1::SweepService::NewStub(cluster_.Channel(tokens_["submitter"]));
  v1::CreateSweepRequest request;
  *request.mutable_base() = cluster_.FakeJob("hang").spec();
  v1::SweepAxis* axis = request.add_axes();
  axis->set_path("priority");
  axis->add_values("1");
  axis->add_values("2");
  v1::Sweep sweep;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(alice->CreateSweep(&context, request, &sweep).ok());
  }
  EXPECT_EQ(sweep.owner(), "alice");
  v1::CancelSweepRequest cancel;
  cancel.set_name(sweep.name());
  v1::Sweep out;
  {
    grpc::ClientContext context;
    EXPECT_EQ(bob->CancelSweep(&context, cancel, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  for (const v1::SweepPoint& point : sweep.points()) {
    EXPECT_NE(cluster_.GetJob(point.job()).state(), v1::JOB_STATE_CANCELLED) << "bob's cancel changed nothing";
  }
  {
    grpc::ClientContext context;
    auto nobody = v1::SweepService::NewStub(cluster_.Channel("not-a-token"));
    EXPECT_EQ(nobody->CancelSweep(&context, cancel, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    ASSERT_TRUE(alice->CancelSweep(&context, cancel, &out).ok());
  }
  EXPECT_EQ(out.state(), v1::SWEEP_STATE_CANCELLED);
  for (const v1::SweepPoint& point : sweep.points()) {
    EXPECT_EQ(cluster_.GetJob(point.job()).state(), v1::JOB_STATE_CANCELLED);
  }
}

TEST_F(Security, OnlyTheOwnerOrAnOperatorCancelsOrReadsAJob) {
  auto alice = v1::JobService::NewStub(cluster_.Channel(tokens_["alice"]));
  auto bob = v1::JobService::NewStub(cluster_.Channel(tokens_["submitter"]));
  grpc::ClientContext create_context;
  v1::Job job;
  ASSERT_TRUE(alice->CreateJob(&create_context, cluster_.FakeJob("hang"), &job).ok());
  EXPECT_EQ(job.owner(), "alice");
  cluster_.WaitForState(job.name(), v1::JOB_STATE_RUNNING);
  v1::CancelJobRequest cancel;
  cancel.set_name(job.name());
  v1::Job out;
  {
    grpc::ClientContext context;
    EXPECT_EQ(bob->CancelJob(&context, cancel, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    v1::ReadJobLogsRequest logs;
    logs.set_name(job.name());
    auto reader = bob->ReadJobLogs(&context, logs);
    v1::LogEntry entry;
    EXPECT_FALSE(reader->Read(&entry));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(cluster_.GetJob(job.name()).state(), v1::JOB_STATE_RUNNING);
  {
    grpc::ClientContext context;
    ASSERT_TRUE(alice->CancelJob(&context, cancel, &out).ok());
  }
  // The audit log saw both cancels, with who and the result.
  auto admin = v1::AdminService::NewStub(cluster_.Channel(tokens_["admin"]));
  grpc::ClientContext context;
  v1::ListAuditEventsResponse audit;
  ASSERT_TRUE(admin->ListAuditEvents(&context, v1::ListAuditEventsRequest(), &audit).ok());
  std::map<std::string, std::string> cancels;  // principal -> code
  for (const auto& e : audit.events()) {
    if (e.method() == "JobService/CancelJob") cancels[e.principal()] = e.code();
  }
  EXPECT_EQ(cancels["user:submitter-user"], "PERMISSION_DENIED");
  EXPECT_EQ(cancels["user:alice"], "OK");
}

// Every RPC by every caller, over the wire: the table in docs/security.md.
using Call = std::function<grpc::Status(grpc::Channel&)>;

std::map<std::string, Call> EveryRpc(const std::string& job) {
  auto jobs = [](grpc::Channel& c) { return v1::JobService::NewStub(std::shared_ptr<grpc::Channel>(&c, [](auto*) {})); };
  auto admin = [](grpc::Channel& c) { return v1::AdminService::NewStub(std::shared_ptr<grpc::Channel>(&c, [](auto*) {})); };
  auto sweeps = [](grpc::Channel& c) { return v1::SweepService::NewStub(std::shared_ptr<grpc::Channel>(&c, [](auto*) {})); };
  auto workers = [](grpc::Channel& c) {
    return v1::WorkerService::NewStub(std::shared_ptr<grpc::Channel>(&c, [](auto*) {}));
  };
  auto ctx = [] {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(Soon());
    return c;
  };
  std::map<std::string, Call> calls;
  calls["JobService/CreateJob"] = [=](grpc::Channel& c) {
    v1::CreateJobRequest r;  // invalid on purpose: authorization comes first, validation after
    v1::Job out;
    return jobs(c)->CreateJob(ctx().get(), r, &out);
  };
  calls["JobService/GetJob"] = [=](grpc::Channel& c) {
    v1::GetJobRequest r;
    r.set_name(job);
    v1::Job out;
    return jobs(c)->GetJob(ctx().get(), r, &out);
  };
  calls["JobService/ListJobs"] = [=](grpc::Channel& c) {
    v1::ListJobsResponse out;
    return jobs(c)->ListJobs(ctx().get(), v1::ListJobsRequest(), &out);
  };
  calls["JobService/CancelJob"] = [=](grpc::Channel& c) {
    v1::CancelJobRequest r;
    r.set_name("jobs/absent");  // nothing real is cancelled by this sweep
    v1::Job out;
    return jobs(c)->CancelJob(ctx().get(), r, &out);
  };
  calls["JobService/WatchJobEvents"] = [=](grpc::Channel& c) {
    v1::WatchJobEventsRequest r;
    r.set_name("jobs/absent");
    auto context = ctx();
    auto stub = jobs(c);
    auto reader = stub->WatchJobEvents(context.get(), r);
    v1::JobEvent e;
    while (reader->Read(&e)) {
    }
    return reader->Finish();
  };
  calls["JobService/WatchJobMetrics"] = [=](grpc::Channel& c) {
    v1::WatchJobMetricsRequest r;
    r.set_name("jobs/absent");
    auto context = ctx();
    auto stub = jobs(c);
    auto reader = stub->WatchJobMetrics(context.get(), r);
    v1::MetricSample s;
    while (reader->Read(&s)) {
    }
    return reader->Finish();
  };
  calls["JobService/ReadJobLogs"] = [=](grpc::Channel& c) {
    v1::ReadJobLogsRequest r;
    r.set_name("jobs/absent");
    auto context = ctx();
    auto stub = jobs(c);
    auto reader = stub->ReadJobLogs(context.get(), r);
    v1::LogEntry e;
    while (reader->Read(&e)) {
    }
    return reader->Finish();
  };
  calls["JobService/ListCheckpoints"] = [=](grpc::Channel& c) {
    v1::ListCheckpointsRequest r;
    r.set_name("jobs/absent");
    v1::ListCheckpointsResponse out;
    return jobs(c)->ListCheckpoints(ctx().get(), r, &out);
  };
  calls["SweepService/CreateSweep"] = [=](grpc::Channel& c) {
    v1::Sweep out;  // no axes: INVALID_ARGUMENT for whoever may call it
    return sweeps(c)->CreateSweep(ctx().get(), v1::CreateSweepRequest(), &out);
  };
  calls["SweepService/GetSweep"] = [=](grpc::Channel& c) {
    v1::GetSweepRequest r;
    r.set_name("sweeps/absent");
    v1::Sweep out;
    return sweeps(c)->GetSweep(ctx().get(), r, &out);
  };
  calls["SweepService/ListSweeps"] = [=](grpc::Channel& c) {
    v1::ListSweepsResponse out;
    return sweeps(c)->ListSweeps(ctx().get(), v1::ListSweepsRequest(), &out);
  };
  calls["SweepService/CancelSweep"] = [=](grpc::Channel& c) {
    v1::CancelSweepRequest r;
    r.set_name("sweeps/absent");
    v1::Sweep out;
    return sweeps(c)->CancelSweep(ctx().get(), r, &out);
  };
  calls["AdminService/ListWorkers"] = [=](grpc::Channel& c) {
    v1::ListWorkersResponse out;
    return admin(c)->ListWorkers(ctx().get(), v1::ListWorkersRequest(), &out);
  };
  calls["AdminService/GetWorker"] = [=](grpc::Channel& c) {
    v1::GetWorkerRequest r;
    r.set_name("workers/w1");
    v1::Worker out;
    return admin(c)->GetWorker(ctx().get(), r, &out);
  };
  calls["AdminService/CordonWorker"] = [=](grpc::Channel& c) {
    v1::CordonWorkerRequest r;
    r.set_name("workers/absent");
    v1::Worker out;
    return admin(c)->CordonWorker(ctx().get(), r, &out);
  };
  calls["AdminService/UncordonWorker"] = [=](grpc::Channel& c) {
    v1::UncordonWorkerRequest r;
    r.set_name("workers/absent");
    v1::Worker out;
    return admin(c)->UncordonWorker(ctx().get(), r, &out);
  };
  calls["AdminService/DrainWorker"] = [=](grpc::Channel& c) {
    v1::DrainWorkerRequest r;
    r.set_name("workers/absent");
    v1::Worker out;
    return admin(c)->DrainWorker(ctx().get(), r, &out);
  };
  calls["AdminService/ListAuditEvents"] = [=](grpc::Channel& c) {
    v1::ListAuditEventsResponse out;
    return admin(c)->ListAuditEvents(ctx().get(), v1::ListAuditEventsRequest(), &out);
  };
  calls["WorkerService/RegisterWorker"] = [=](grpc::Channel& c) {
    v1::RegisterWorkerRequest r;
    r.set_worker_id("sweeper");  // the sweep's own worker certificate names it
    r.mutable_resources()->set_cpu_slots(1);
    v1::RegisterWorkerResponse out;
    return workers(c)->RegisterWorker(ctx().get(), r, &out);
  };
  calls["WorkerService/Heartbeat"] = [=](grpc::Channel& c) {
    v1::HeartbeatRequest r;
    r.set_worker_id("sweeper");
    v1::HeartbeatResponse out;
    return workers(c)->Heartbeat(ctx().get(), r, &out);
  };
  calls["WorkerService/ReportMetrics"] = [=](grpc::Channel& c) {
    v1::RegisterWorkerRequest registration;  // a current session (refused, and empty, for non-workers)
    registration.set_worker_id("sweeper");
    registration.mutable_resources()->set_cpu_slots(1);
    v1::RegisterWorkerResponse registered;
    workers(c)->RegisterWorker(ctx().get(), registration, &registered).IgnoreError();
    v1::ReportMetricsRequest r;
    r.set_worker_id("sweeper");
    r.set_session(registered.session());
    v1::ReportMetricsResponse out;
    return workers(c)->ReportMetrics(ctx().get(), r, &out);
  };
  return calls;
}

TEST_F(Security, EveryRpcByEveryCaller) {
  // Columns as in docs/security.md; 1: allowed (any answer but the two refusals).
  const std::vector<std::string> columns = {"viewer", "submitter", "operator", "admin", "worker"};
  const std::map<std::string, std::vector<int>> expected = {
      {"JobService/CreateJob", {0, 1, 1, 1, 0}},       {"JobService/GetJob", {1, 1, 1, 1, 0}},
      {"JobService/ListJobs", {1, 1, 1, 1, 0}},        {"JobService/CancelJob", {0, 1, 1, 1, 0}},
      {"JobService/WatchJobEvents", {1, 1, 1, 1, 0}},  {"JobService/WatchJobMetrics", {1, 1, 1, 1, 0}},
      {"JobService/ReadJobLogs", {1, 1, 1, 1, 0}},     {"JobService/ListCheckpoints", {1, 1, 1, 1, 0}},
      {"AdminService/ListWorkers", {0, 0, 1, 1, 0}},   {"AdminService/GetWorker", {0, 0, 1, 1, 0}},
      {"AdminService/CordonWorker", {0, 0, 1, 1, 0}},  {"AdminService/UncordonWorker", {0, 0, 1, 1, 0}},
      {"AdminService/DrainWorker", {0, 0, 1, 1, 0}},   {"AdminService/ListAuditEvents", {0, 0, 0, 1, 0}},
      {"WorkerService/RegisterWorker", {0, 0, 0, 0, 1}}, {"WorkerService/Heartbeat", {0, 0, 0, 0, 1}},
      {"WorkerService/ReportMetrics", {0, 0, 0, 0, 1}},
      {"SweepService/CreateSweep", {0, 1, 1, 1, 0}},   {"SweepService/GetSweep", {1, 1, 1, 1, 0}},
      {"SweepService/ListSweeps", {1, 1, 1, 1, 0}},    {"SweepService/CancelSweep", {0, 1, 1, 1, 0}},
  };
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels;
  for (const char* role : {"viewer", "submitter", "operator", "admin"}) {
    channels[role] = cluster_.Channel(tokens_[role]);
  }
  channels["worker"] = CertChannel(WorkerFiles("sweeper"));
  auto nobody = CertChannel(security::ClientFiles(cluster_.pki()));
  auto wrong_token = cluster_.Channel("not-a-token");
  const auto calls = EveryRpc("jobs/absent");
  ASSERT_EQ(calls.size(), expected.size());
  for (const auto& [method, call] : calls) {
    SCOPED_TRACE(method);
    for (size_t column = 0; column < columns.size(); ++column) {
      const grpc::Status status = call(*channels[columns[column]]);
      const bool refused = status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                           status.error_code() == grpc::StatusCode::UNAUTHENTICATED;
      EXPECT_EQ(refused, expected.at(method)[column] == 0)
          << columns[column] << ": " << status.error_code() << " " << status.error_message();
    }
    EXPECT_EQ(call(*nobody).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(call(*wrong_token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
}

}  // namespace
}  // namespace tunefleet::testing
