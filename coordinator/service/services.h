#pragma once
// The coordinator's gRPC services: thin adapters from RPCs to ControlPlane.
// Each handler's first step is the Authorizer (coordinator/auth/): who calls
// and whether the RPC table lets them; mutating calls end with an audit row.

#include <grpcpp/security/credentials.h>

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/service/stream_quota.h"
#include "coordinator/sweeps/sweep_manager.h"
#include "tunefleet/v1/admin_service.grpc.pb.h"
#include "tunefleet/v1/job_service.grpc.pb.h"
#include "tunefleet/v1/sweep_service.grpc.pb.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace tunefleet::coordinator {

class JobServiceImpl final : public v1::JobService::Service {
 public:
  // `log_credentials`: how ReadJobLogs dials a worker's log service (the
  // coordinator's certificate; null: plaintext, --insecure).
  // `streams`: how many watch and log streams may be open at once.
  JobServiceImpl(ControlPlane& plane, const auth::Authorizer& auth,
                 std::shared_ptr<grpc::ChannelCredentials> log_credentials, StreamLimits streams = {})
      : plane_(plane), auth_(auth), log_credentials_(std::move(log_credentials)), streams_(streams) {}
  grpc::Status CreateJob(grpc::ServerContext*, const v1::CreateJobRequest*, v1::Job*) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::Job*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*, v1::ListJobsResponse*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*, v1::Job*) override;
  grpc::Status WatchJobEvents(grpc::ServerContext*, const v1::WatchJobEventsRequest*,
                              grpc::ServerWriter<v1::JobEvent>*) override;
  grpc::Status WatchJobMetrics(grpc::ServerContext*, const v1::WatchJobMetricsRequest*,
                               grpc::ServerWriter<v1::MetricSample>*) override;
  // Proxied to the WorkerLogService of the worker that ran the rank.
  grpc::Status ReadJobLogs(grpc::ServerContext*, const v1::ReadJobLogsRequest*,
                           grpc::ServerWriter<v1::LogEntry>*) override;
  grpc::Status ListCheckpoints(grpc::ServerContext*, const v1::ListCheckpointsRequest*,
                               v1::ListCheckpointsResponse*) override;

 private:
  // Authorize, then (owner_or_operator rules) the job owner's check.
  absl::StatusOr<auth::Principal> AuthorizeForJob(grpc::ServerContext* context, const std::string& method,
                                                  const std::string& job);
  ControlPlane& plane_;
  const auth::Authorizer& auth_;
  const std::shared_ptr<grpc::ChannelCredentials> log_credentials_;
  StreamQuota streams_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  // `streams`: WatchAssignments streams open at once (one per worker; a
  // replaced one may overlap its successor briefly).
  WorkerServiceImpl(ControlPlane& plane, const auth::Authorizer& auth, StreamLimits streams = {2, 10000})
      : plane_(plane), auth_(auth), streams_(streams) {}
  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*, v1::HeartbeatResponse*) override;
  grpc::Status ReportMetrics(grpc::ServerContext*, const v1::ReportMetricsRequest*,
                             v1::ReportMetricsResponse*) override;
  grpc::Status WatchAssignments(grpc::ServerContext*, const v1::WatchAssignmentsRequest*,
                                grpc::ServerWriter<v1::WorkerDirective>*) override;

 private:
  // The caller's certificate must name `worker_id` (PERMISSION_DENIED otherwise).
  absl::StatusOr<auth::Principal> AuthorizeWorker(grpc::ServerContext* context, const std::string& method,
                                                  const std::string& worker_id);
  ControlPlane& plane_;
  const auth::Authorizer& auth_;
  // The certificate each worker last registered with: a live worker's name
  // cannot be taken over by another certificate (one from the same CA for the
  // same name, e.g. a reissued one, waits until the old holder is LOST).
  absl::Mutex mu_;
  std::map<std::string, std::string> fingerprints_ ABSL_GUARDED_BY(mu_);
  StreamQuota streams_;  // keyed by worker name (the caller's identity, checked)
};

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  AdminServiceImpl(ControlPlane& plane, const auth::Authorizer& auth) : plane_(plane), auth_(auth) {}
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*, v1::ListWorkersResponse*) override;
  grpc::Status GetWorker(grpc::ServerContext*, const v1::GetWorkerRequest*, v1::Worker*) override;
  grpc::Status CordonWorker(grpc::ServerContext*, const v1::CordonWorkerRequest*, v1::Worker*) override;
  grpc::Status UncordonWorker(grpc::ServerContext*, const v1::UncordonWorkerRequest*, v1::Worker*) override;
  grpc::Status DrainWorker(grpc::ServerContext*, const v1::DrainWorkerRequest*, v1::Worker*) override;
  grpc::Status ListAuditEvents(grpc::ServerContext*, const v1::ListAuditEventsRequest*,
                               v1::ListAuditEventsResponse*) override;

 private:
  ControlPlane& plane_;
  const auth::Authorizer& auth_;
};

class SweepServiceImpl final : public v1::SweepService::Service {
 public:
  SweepServiceImpl(sweeps::SweepManager& sweeps, const auth::Authorizer& auth) : sweeps_(sweeps), auth_(auth) {}
  grpc::Status CreateSweep(grpc::ServerContext*, const v1::CreateSweepRequest*, v1::Sweep*) override;
  grpc::Status GetSweep(grpc::ServerContext*, const v1::GetSweepRequest*, v1::Sweep*) override;
  grpc::Status ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest*, v1::ListSweepsResponse*) override;
  grpc::Status CancelSweep(grpc::ServerContext*, const v1::CancelSweepRequest*, v1::Sweep*) override;

 private:
  sweeps::SweepManager& sweeps_;
  const auth::Authorizer& auth_;
};

}  // namespace tunefleet::coordinator
