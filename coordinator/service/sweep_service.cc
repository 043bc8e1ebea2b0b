// SweepService: thin adapters over the SweepManager, each authorized first
// (coordinator/auth/roles.cc); a cancel is the owner's, an operator's or an admin's.

#include "coordinator/service/grpc_status.h"
#include "coordinator/service/services.h"

namespace tunefleet::coordinator {

grpc::Status SweepServiceImpl::CreateSweep(grpc::ServerContext* context, const v1::CreateSweepRequest* request,
                                           v1::Sweep* sweep) {
  const std::string method = "SweepService/CreateSweep";
  auto principal = auth_.Authorize(*context, method, request->sweep_id());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto created = sweeps_.CreateSweep(*request, principal->name);
  auth_.Audit(*principal, method, created.ok() ? created->name() : request->sweep_id(), created.status());
  return Reply(std::move(created), sweep);
}

grpc::Status SweepServiceImpl::GetSweep(grpc::ServerContext* context, const v1::GetSweepRequest* request,
                                        v1::Sweep* sweep) {
  if (auto p = auth_.Authorize(*context, "SweepService/GetSweep", request->name()); !p.ok()) {
    return ToGrpcStatus(p.status());
  }
  return Reply(sweeps_.GetSweep(request->name()), sweep);
}

grpc::Status SweepServiceImpl::ListSweeps(grpc::ServerContext* context, const v1::ListSweepsRequest* request,
                                          v1::ListSweepsResponse* response) {
  if (auto p = auth_.Authorize(*context, "SweepService/ListSweeps", ""); !p.ok()) return ToGrpcStatus(p.status());
  return Reply(sweeps_.ListSweeps(*request), response);
}

grpc::Status SweepServiceImpl::CancelSweep(grpc::ServerContext* context, const v1::CancelSweepRequest* request,
                                           v1::Sweep* sweep) {
  const std::string method = "SweepService/CancelSweep";
  auto principal = auth_.Authorize(*context, method, request->name());
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto owner = sweeps_.OwnerOf(request->name());
  if (!owner.ok()) {
    auth_.Audit(*principal, method, request->name(), owner.status());
    return ToGrpcStatus(owner.status());
  }
  if (auto s = auth_.AuthorizeOwner(*principal, method, request->name(), *owner); !s.ok()) return ToGrpcStatus(s);
  auto cancelled = sweeps_.CancelSweep(request->name());
  auth_.Audit(*principal, method, request->name(), cancelled.status());
  return Reply(std::move(cancelled), sweep);
}

}  // namespace tunefleet::coordinator
