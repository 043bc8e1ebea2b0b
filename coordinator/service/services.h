#pragma once
// The coordinator's gRPC services: thin adapters from RPCs to ControlPlane.

#include "coordinator/core/control_plane.h"
#include "tunefleet/v1/admin_service.grpc.pb.h"
#include "tunefleet/v1/job_service.grpc.pb.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace tunefleet::coordinator {

class JobServiceImpl final : public v1::JobService::Service {
 public:
  explicit JobServiceImpl(ControlPlane& plane) : plane_(plane) {}
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
  ControlPlane& plane_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  explicit WorkerServiceImpl(ControlPlane& plane) : plane_(plane) {}
  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*, v1::HeartbeatResponse*) override;
  grpc::Status ReportMetrics(grpc::ServerContext*, const v1::ReportMetricsRequest*,
                             v1::ReportMetricsResponse*) override;

 private:
  ControlPlane& plane_;
};

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  explicit AdminServiceImpl(ControlPlane& plane) : plane_(plane) {}
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*, v1::ListWorkersResponse*) override;
  grpc::Status GetWorker(grpc::ServerContext*, const v1::GetWorkerRequest*, v1::Worker*) override;
  grpc::Status CordonWorker(grpc::ServerContext*, const v1::CordonWorkerRequest*, v1::Worker*) override;
  grpc::Status UncordonWorker(grpc::ServerContext*, const v1::UncordonWorkerRequest*, v1::Worker*) override;
  grpc::Status DrainWorker(grpc::ServerContext*, const v1::DrainWorkerRequest*, v1::Worker*) override;

 private:
  ControlPlane& plane_;
};

}  // namespace tunefleet::coordinator
