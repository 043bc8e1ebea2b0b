#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/security/tls.h"
#include "coordinator/service/grpc_status.h"
#include "coordinator/service/services.h"

namespace tunefleet::coordinator {

absl::StatusOr<auth::Principal> JobServiceImpl::AuthorizeForJob(grpc::ServerContext* context,
                                                                const std::string& method, const std::string& job) {
  auto principal = auth_.Authorize(*context, method, job);
  if (!principal.ok()) return principal.status();
  auto found = plane_.GetJob(job);
  if (!found.ok()) return found.status();
  if (auto s = auth_.AuthorizeOwner(*principal, method, job, found->owner()); !s.ok()) return s;
  return principal;
}

grpc::Status JobServiceImpl::CreateJob(grpc::ServerContext* context, const v1::CreateJobRequest* request,
                                       v1::Job* job) {
  const std::string method = "JobService/CreateJob";
  auto principal = auth_.Authorize(*context, method, request->job_id());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto created = plane_.CreateJob(*request, principal->name);
  auth_.Audit(*principal, method, created.ok() ? created->name() : request->job_id(), created.status());
  return Reply(std::move(created), job);
}

grpc::Status JobServiceImpl::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request, v1::Job* job) {
  if (auto p = auth_.Authorize(*context, "JobService/GetJob", request->name()); !p.ok()) return ToGrpcStatus(p.status());
  return Reply(plane_.GetJob(request->name()), job);
}

grpc::Status JobServiceImpl::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                                      v1::ListJobsResponse* response) {
  if (auto p = auth_.Authorize(*context, "JobService/ListJobs", ""); !p.ok()) return ToGrpcStatus(p.status());
  return Reply(plane_.ListJobs(*request), response);
}

grpc::Status JobServiceImpl::CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                                       v1::Job* job) {
  const std::string method = "JobService/CancelJob";
  auto principal = auth_.Authorize(*context, method, request->name());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto found = plane_.GetJob(request->name());
  if (!found.ok()) {
    auth_.Audit(*principal, method, request->name(), found.status());
    return ToGrpcStatus(found.status());
  }
  if (auto s = auth_.AuthorizeOwner(*principal, method, request->name(), found->owner()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto cancelled = plane_.CancelJob(request->name());
  auth_.Audit(*principal, method, request->name(), cancelled.status());
  return Reply(std::move(cancelled), job);
}

grpc::Status JobServiceImpl::WatchJobEvents(grpc::ServerContext* context, const v1::WatchJobEventsRequest* request,
                                            grpc::ServerWriter<v1::JobEvent>* writer) {
  auto principal = auth_.Authorize(*context, "JobService/WatchJobEvents", request->name());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto lease = streams_.Acquire(principal->Display());
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  int64_t after = request->after();
  while (!context->IsCancelled()) {
    bool finished = false;
    auto events = plane_.EventsAfter(request->name(), after, &finished);
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const v1::JobEvent& event : *events) {
      if (!writer->Write(event)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      after = event.sequence();
    }
    if (finished) return grpc::Status::OK;
    // Wake on a new event, or after a while to notice a client that left.
    plane_.WaitForEvents(request->name(), after, absl::Seconds(1));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
}

grpc::Status JobServiceImpl::WatchJobMetrics(grpc::ServerContext* context, const v1::WatchJobMetricsRequest* request,
                                             grpc::ServerWriter<v1::MetricSample>* writer) {
  auto principal = AuthorizeForJob(context, "JobService/WatchJobMetrics", request->name());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto lease = streams_.Acquire(principal->Display());
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  int64_t cursor = 0;
  while (!context->IsCancelled()) {
    bool finished = false;
    auto samples = plane_.MetricsAfter(request->name(), &cursor, request->after_step(), &finished);
    if (!samples.ok()) return ToGrpcStatus(samples.status());
    for (const v1::MetricSample& sample : *samples) {
      if (!writer->Write(sample)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    if (finished) return grpc::Status::OK;
    plane_.WaitForMetrics(request->name(), cursor, absl::Seconds(1));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
}

grpc::Status JobServiceImpl::ReadJobLogs(grpc::ServerContext* context, const v1::ReadJobLogsRequest* request,
                                         grpc::ServerWriter<v1::LogEntry>* writer) {
  auto principal = AuthorizeForJob(context, "JobService/ReadJobLogs", request->name());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto lease = streams_.Acquire(principal->Display());
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  if (request->offset() < 0 || request->tail_lines() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "offset, tail_lines: must not be negative");
  }
  auto source = plane_.FindLogSource(request->name(), request->rank());
  if (!source.ok()) return ToGrpcStatus(source.status());
  // Logs stay on the worker's disk; this is a relay. The client's
  // cancellation and deadline propagate to the worker's stream.
  // The worker's log service proves it is the worker that ran the rank: its
  // certificate must name the worker, whatever address it registered.
  auto stub = v1::WorkerLogService::NewStub(
      log_credentials_ ? grpc::CreateCustomChannel(source->log_address, log_credentials_,
                                                   security::ServerNameArguments(source->worker_id))
                       : grpc::CreateChannel(source->log_address, grpc::InsecureChannelCredentials()));
  std::unique_ptr<grpc::ClientContext> upstream = grpc::ClientContext::FromServerContext(*context);
  v1::ReadRankLogRequest forward;
  forward.set_job(request->name());
  forward.set_attempt(source->attempt);
  forward.set_rank(request->rank());
  forward.set_follow(request->follow());
  forward.set_offset(request->offset());
  forward.set_tail_lines(request->tail_lines());
  auto reader = stub->ReadRankLog(upstream.get(), forward);
  v1::LogEntry entry;
  while (reader->Read(&entry)) {
    if (!writer->Write(entry)) {
      upstream->TryCancel();
      reader->Finish().IgnoreError();
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
  }
  const grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the worker holding this log cannot be reached at " + source->log_address + ": " +
                            status.error_message());
  }
  return status;
}

grpc::Status JobServiceImpl::ListCheckpoints(grpc::ServerContext* context, const v1::ListCheckpointsRequest* request,
                                             v1::ListCheckpointsResponse* response) {
  if (auto p = auth_.Authorize(*context, "JobService/ListCheckpoints", request->name()); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  return Reply(plane_.ListCheckpoints(request->name()), response);
}

}  // namespace tunefleet::coordinator
