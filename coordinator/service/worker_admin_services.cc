#include "absl/strings/str_cat.h"
#include "coordinator/service/grpc_status.h"
#include "coordinator/service/services.h"

namespace tunefleet::coordinator {

absl::StatusOr<auth::Principal> WorkerServiceImpl::AuthorizeWorker(grpc::ServerContext* context,
                                                                   const std::string& method,
                                                                   const std::string& worker_id) {
  auto principal = auth_.Authorize(*context, method, "workers/" + worker_id);
  if (!principal.ok()) return principal.status();
  if (principal->kind == auth::Principal::Kind::kWorker && principal->name != worker_id) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("worker_id \"", worker_id, "\": the caller's certificate names \"", principal->name, "\""));
    if (method == "WorkerService/RegisterWorker") auth_.Audit(*principal, method, "workers/" + worker_id, denied);
    return denied;
  }
  return principal;
}

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* context, const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  const std::string method = "WorkerService/RegisterWorker", target = "workers/" + request->worker_id();
  auto principal = AuthorizeWorker(context, method, request->worker_id());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  absl::MutexLock lock(&mu_);
  const std::string& fingerprint = principal->certificate_fingerprint;
  auto known = fingerprints_.find(target);
  if (principal->kind == auth::Principal::Kind::kWorker && known != fingerprints_.end() &&
      known->second != fingerprint) {
    auto live = plane_.GetWorker(target);
    if (live.ok() && live->state() != v1::WORKER_STATE_LOST) {
      absl::Status denied = absl::PermissionDeniedError(
          absl::StrCat(target, " is live with another certificate; it must be LOST before a new one takes its name"));
      auth_.Audit(*principal, method, target, denied);
      return ToGrpcStatus(denied);
    }
  }
  auto registered = plane_.RegisterWorker(*request);
  if (registered.ok() && principal->kind == auth::Principal::Kind::kWorker) fingerprints_[target] = fingerprint;
  auth_.Audit(*principal, method, target, registered.status());
  return Reply(std::move(registered), response);
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  if (auto p = AuthorizeWorker(context, "WorkerService/Heartbeat", request->worker_id()); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  return Reply(plane_.Heartbeat(*request), response);
}

grpc::Status WorkerServiceImpl::ReportMetrics(grpc::ServerContext* context, const v1::ReportMetricsRequest* request,
                                              v1::ReportMetricsResponse*) {
  if (auto p = AuthorizeWorker(context, "WorkerService/ReportMetrics", request->worker_id()); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  return ToGrpcStatus(plane_.ReportMetrics(*request));
}

grpc::Status WorkerServiceImpl::WatchAssignments(grpc::ServerContext* context,
                                                 const v1::WatchAssignmentsRequest* request,
                                                 grpc::ServerWriter<v1::WorkerDirective>* writer) {
  if (auto p = AuthorizeWorker(context, "WorkerService/WatchAssignments", request->worker_id()); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  const std::string worker = "workers/" + request->worker_id();
  auto lease = streams_.Acquire(worker);
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  auto stream = plane_.OpenDirectiveStream(*request);
  if (!stream.ok()) return ToGrpcStatus(stream.status());
  DirectiveStreams& streams = plane_.directive_streams();
  grpc::Status ended = grpc::Status::OK;
  while (!context->IsCancelled()) {
    v1::WorkerDirective directive;
    // The timeout only bounds how long a cancelled stream goes unnoticed.
    const DirectiveStreams::Wait wait = streams.Next(**stream, absl::Seconds(1), &directive);
    if (wait == DirectiveStreams::Wait::kClosed) {
      // Replaced by a newer stream, or the session ended: the worker reopens (after registering).
      ended = grpc::Status(grpc::StatusCode::ABORTED, "stream replaced or session ended; reopen");
      break;
    }
    if (wait == DirectiveStreams::Wait::kDirective && !writer->Write(directive)) break;
  }
  streams.Close(worker, *stream);
  return ended;
}

grpc::Status AdminServiceImpl::ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                                           v1::ListWorkersResponse* response) {
  if (auto p = auth_.Authorize(*context, "AdminService/ListWorkers", ""); !p.ok()) return ToGrpcStatus(p.status());
  *response = plane_.ListWorkers(*request);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetWorker(grpc::ServerContext* context, const v1::GetWorkerRequest* request,
                                         v1::Worker* worker) {
  if (auto p = auth_.Authorize(*context, "AdminService/GetWorker", request->name()); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  return Reply(plane_.GetWorker(request->name()), worker);
}

namespace {

// Authorize, act, audit: the shape of every mutating admin call.
template <typename Act>
grpc::Status Mutate(const auth::Authorizer& auth, grpc::ServerContext* context, const std::string& method,
                    const std::string& target, v1::Worker* worker, Act act) {
  auto principal = auth.Authorize(*context, method, target);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  absl::StatusOr<v1::Worker> result = act();
  auth.Audit(*principal, method, target, result.status());
  return Reply(std::move(result), worker);
}

}  // namespace

grpc::Status AdminServiceImpl::CordonWorker(grpc::ServerContext* context, const v1::CordonWorkerRequest* request,
                                            v1::Worker* worker) {
  return Mutate(auth_, context, "AdminService/CordonWorker", request->name(), worker,
                [&] { return plane_.CordonWorker(request->name()); });
}

grpc::Status AdminServiceImpl::UncordonWorker(grpc::ServerContext* context, const v1::UncordonWorkerRequest* request,
                                              v1::Worker* worker) {
  return Mutate(auth_, context, "AdminService/UncordonWorker", request->name(), worker,
                [&] { return plane_.UncordonWorker(request->name()); });
}

grpc::Status AdminServiceImpl::DrainWorker(grpc::ServerContext* context, const v1::DrainWorkerRequest* request,
                                           v1::Worker* worker) {
  return Mutate(auth_, context, "AdminService/DrainWorker", request->name(), worker,
                [&] { return plane_.DrainWorker(*request); });
}

grpc::Status AdminServiceImpl::ListAuditEvents(grpc::ServerContext* context,
                                               const v1::ListAuditEventsRequest* request,
                                               v1::ListAuditEventsResponse* response) {
  if (auto p = auth_.Authorize(*context, "AdminService/ListAuditEvents", ""); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  if (auth_.audit_log() == nullptr) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no audit log");
  const int limit = request->limit() > 0 ? std::min(request->limit(), 10000) : 100;
  auto events = auth_.audit_log()->Newest(limit);
  if (!events.ok()) return ToGrpcStatus(events.status());
  for (auto& event : *events) *response->add_events() = std::move(event);
  return grpc::Status::OK;
}

}  // namespace tunefleet::coordinator
