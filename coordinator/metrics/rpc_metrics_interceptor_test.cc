// The RPC interceptor on an in-process server: every call is counted once,
// by method and canonical code, our services, gRPC's health service and
// methods nobody registered alike.

#include "coordinator/metrics/rpc_metrics_interceptor.h"

#include <future>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "coordinator/metrics/coordinator_metrics.h"
#include "coordinator/service/services.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator {
namespace {

TEST(RpcMetricsLabels, MethodPathAndCanonicalCodeNames) {
  const std::set<std::string> methods = RpcMethodLabels({v1::JobService::service_full_name()});
  EXPECT_TRUE(methods.count("tunefleet.v1.JobService/CreateJob"));
  EXPECT_TRUE(methods.count("grpc.health.v1.Health/Check"));
  EXPECT_EQ(RpcMethodLabel("/tunefleet.v1.JobService/CreateJob"), "tunefleet.v1.JobService/CreateJob");
  EXPECT_EQ(RpcMethodLabel(nullptr), "unknown");
  EXPECT_EQ(RpcCodeLabel(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(RpcCodeLabel(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_EQ(RpcCodeLabel(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(RpcCodeLabel(static_cast<grpc::StatusCode>(20)), "UNKNOWN");
}

class RpcMetricsInterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::OpenSqliteStore(tunefleet::testing::FreshTestDirectory() + "/state.db");
    ASSERT_TRUE(store.ok()) << store.status();
    auto plane = ControlPlane::Create(std::move(*store), ControlPlaneOptions{});
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    admin_ = std::make_unique<AdminServiceImpl>(*plane_, authorizer_);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(admin_.get());
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(std::make_unique<RpcMetricsInterceptorFactory>(
        RpcMethodLabels({v1::AdminService::service_full_name()}),
        [this](const std::string& method, grpc::StatusCode code, absl::Duration duration) {
          absl::MutexLock lock(&mu_);
          ++calls_[{method, RpcCodeLabel(code)}];
          EXPECT_GE(duration, absl::ZeroDuration());
          metrics_.ObserveRpc(method, code, duration);
        }));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  // A unary call by method path with raw bytes (the empty message).
  grpc::Status RawCall(const std::string& method) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::ByteBuffer request, response;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  }
  // The count of (method, code) once it reaches `expected`, or at a deadline: the
  // server reports after sending the status, so the client may see it first.
  int64_t Calls(const std::string& method, const std::string& code, int64_t expected) {
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto it = calls_.find({method, code});
        const int64_t n = it == calls_.end() ? 0 : it->second;
        if (n >= expected || absl::Now() > deadline) return n;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  std::unique_ptr<ControlPlane> plane_;
  // Plaintext on loopback: anonymous callers may do anything (what this test needs).
  const auth::Authorizer authorizer_{auth::TokenTable(), /*insecure=*/true, nullptr};
  std::unique_ptr<AdminServiceImpl> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  CoordinatorMetrics metrics_;
  absl::Mutex mu_;
  std::map<std::tuple<std::string, std::string>, int64_t> calls_ ABSL_GUARDED_BY(mu_);
};

TEST_F(RpcMetricsInterceptorTest, CountsEveryCallByMethodAndCode) {
  auto stub = v1::AdminService::NewStub(channel_);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext context;
    v1::ListWorkersResponse response;
    ASSERT_TRUE(stub->ListWorkers(&context, v1::ListWorkersRequest(), &response).ok());
  }
  {
    grpc::ClientContext context;
    v1::GetWorkerRequest request;
    request.set_name("workers/nobody");
    v1::Worker worker;
    EXPECT_EQ(stub->GetWorker(&context, request, &worker).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_TRUE(RawCall("/grpc.health.v1.Health/Check").ok());
  EXPECT_EQ(RawCall("/no.such.Service/Method").error_code(), grpc::StatusCode::UNIMPLEMENTED);

  EXPECT_EQ(Calls("tunefleet.v1.AdminService/ListWorkers", "OK", 2), 2);
  EXPECT_EQ(Calls("tunefleet.v1.AdminService/GetWorker", "NOT_FOUND", 1), 1);
  EXPECT_EQ(Calls("grpc.health.v1.Health/Check", "OK", 1), 1);
  // Unregistered methods share one label, so a client cannot grow the series.
  EXPECT_EQ(Calls("unknown", "UNIMPLEMENTED", 1), 1);

  // And the same figures come out of the coordinator's registry.
  bool counted = false, timed = false;
  for (const auto& family : metrics_.Collect()) {
    if (family.name == "tunefleet_rpcs_total") {
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& label : metric.label) labels[label.name] = label.value;
        if (labels["method"] == "tunefleet.v1.AdminService/ListWorkers" && labels["code"] == "OK") {
          counted = metric.counter.value == 2;
        }
      }
    }
    if (family.name == "tunefleet_rpc_duration_seconds") {
      for (const auto& metric : family.metric) {
        if (metric.label.size() == 1 && metric.label[0].value == "tunefleet.v1.AdminService/GetWorker") {
          timed = metric.histogram.sample_count == 1;
        }
      }
    }
  }
  EXPECT_TRUE(counted);
  EXPECT_TRUE(timed);
}

}  // namespace
}  // namespace tunefleet::coordinator
