#include "coordinator/metrics/rpc_metrics_interceptor.h"

#include <atomic>

#include <google/protobuf/descriptor.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"

namespace tunefleet::coordinator {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(std::string method, const RpcObserver& observe)
      : method_(std::move(method)), observe_(observe), start_(absl::Now()) {}
  // An RPC that never sent a status (the client left, the server stopped) still counts.
  ~RpcMetricsInterceptor() override { Report(grpc::StatusCode::CANCELLED); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Report(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Report(grpc::StatusCode code) {
    if (reported_.exchange(true)) return;
    observe_(method_, code, absl::Now() - start_);
  }

  const std::string method_;
  const RpcObserver& observe_;
  const absl::Time start_;
  std::atomic<bool> reported_{false};
};

}  // namespace

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  std::string method = RpcMethodLabel(info->method());
  if (!methods_.count(method)) method = "unknown";
  return new RpcMetricsInterceptor(std::move(method), observe_);
}

std::set<std::string> RpcMethodLabels(const std::vector<std::string>& services) {
  std::set<std::string> labels = {"grpc.health.v1.Health/Check", "grpc.health.v1.Health/Watch",
                                  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"};
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      labels.insert(service->full_name() + "/" + service->method(i)->name());
    }
  }
  return labels;
}

std::string RpcMethodLabel(const char* method) {
  if (method == nullptr || *method == '\0') return "unknown";
  return method[0] == '/' ? std::string(method + 1) : std::string(method);
}

std::string RpcCodeLabel(grpc::StatusCode code) {
  // grpc::StatusCode and absl::StatusCode share google.rpc.Code's numbers.
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

}  // namespace tunefleet::coordinator
