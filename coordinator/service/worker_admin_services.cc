#include "coordinator/service/grpc_status.h"
#include "coordinator/service/services.h"

namespace tunefleet::coordinator {
grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  return Reply(plane_.RegisterWorker(*request), response);
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  return Reply(plane_.Heartbeat(*request), response);
}

grpc::Status WorkerServiceImpl::ReportMetrics(grpc::ServerContext*, const v1::ReportMetricsRequest* request,
                                              v1::ReportMetricsResponse*) {
  return ToGrpcStatus(plane_.ReportMetrics(*request));
}

grpc::Status AdminServiceImpl::ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest* request,
                                           v1::ListWorkersResponse* response) {
  *response = plane_.ListWorkers(*request);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetWorker(grpc::ServerContext*, const v1::GetWorkerRequest* request,
                                         v1::Worker* worker) {
  return Reply(plane_.GetWorker(request->name()), worker);
}

grpc::Status AdminServiceImpl::CordonWorker(grpc::ServerContext*, const v1::CordonWorkerRequest* request,
                                            v1::Worker* worker) {
  return Reply(plane_.CordonWorker(request->name()), worker);
}

grpc::Status AdminServiceImpl::UncordonWorker(grpc::ServerContext*, const v1::UncordonWorkerRequest* request,
                                              v1::Worker* worker) {
  return Reply(plane_.UncordonWorker(request->name()), worker);
}

grpc::Status AdminServiceImpl::DrainWorker(grpc::ServerContext*, const v1::DrainWorkerRequest* request,
                                           v1::Worker* worker) {
  return Reply(plane_.DrainWorker(*request), worker);
}

}  // namespace tunefleet::coordinator
