#pragma once
// absl::Status -> grpc::Status at the API boundary: the codes are the same
// numbers (both follow google.rpc.Code).

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace tunefleet::coordinator {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace tunefleet::coordinator
