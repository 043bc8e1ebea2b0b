#pragma once
// Counts and times every RPC the coordinator's gRPC server answers, whatever
// the service (tunefleet's own, health, reflection): a server interceptor sees
// each call's method and the status it ends with, so no handler has to.

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>

#include "absl/time/time.h"

namespace tunefleet::coordinator {

// method: the gRPC path without its leading '/', e.g. "tunefleet.v1.JobService/CreateJob".
using RpcObserver = std::function<void(const std::string& method, grpc::StatusCode code, absl::Duration duration)>;

class RpcMetricsInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `observe` is called once per RPC, from gRPC's threads: it must be thread-safe
  // and not throw. Methods outside `methods` are reported as "unknown": the
  // server hands their made-up paths to interceptors too, and a client must
  // not be able to mint label values.
  RpcMetricsInterceptorFactory(std::set<std::string> methods, RpcObserver observe)
      : methods_(std::move(methods)), observe_(std::move(observe)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

 private:
  const std::set<std::string> methods_;
  const RpcObserver observe_;
};

// Every method of `services` (full names, e.g. v1::JobService::service_full_name(),
// looked up among the linked-in protos) as a label ("package.Service/Method"),
// plus gRPC's health checking and reflection methods.
std::set<std::string> RpcMethodLabels(const std::vector<std::string>& services);

// "/tunefleet.v1.JobService/CreateJob" -> "tunefleet.v1.JobService/CreateJob"; null -> "unknown".
std::string RpcMethodLabel(const char* method);
// The canonical name of a status code: "OK", "NOT_FOUND", ...
std::string RpcCodeLabel(grpc::StatusCode code);

}  // namespace tunefleet::coordinator
