// The RPC x role table, cell by cell: the expectation below is the table in
// docs/security.md, written out again so that a change to either shows here.

#include <array>
#include <map>
#include <string>
#include <tuple>

#include <gtest/gtest.h>

#include "coordinator/auth/roles.h"
#include "coordinator/auth/token_table.h"
#include "common/security/secrets.h"
#include <google/protobuf/descriptor.h>

#include "tunefleet/v1/admin_service.grpc.pb.h"
#include "tunefleet/v1/job_service.grpc.pb.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"

namespace tunefleet::coordinator::auth {
namespace {

// Columns: viewer, submitter, operator, admin, worker. 1: allowed.
const std::map<std::string, std::array<int, 5>> kExpected = {
    {"JobService/CreateJob", {0, 1, 1, 1, 0}},       {"JobService/GetJob", {1, 1, 1, 1, 0}},
    {"JobService/ListJobs", {1, 1, 1, 1, 0}},        {"JobService/CancelJob", {0, 1, 1, 1, 0}},
    {"JobService/WatchJobEvents", {1, 1, 1, 1, 0}},  {"JobService/WatchJobMetrics", {1, 1, 1, 1, 0}},
    {"JobService/ReadJobLogs", {1, 1, 1, 1, 0}},     {"JobService/ListCheckpoints", {1, 1, 1, 1, 0}},
    {"AdminService/ListWorkers", {0, 0, 1, 1, 0}},   {"AdminService/GetWorker", {0, 0, 1, 1, 0}},
    {"AdminService/CordonWorker", {0, 0, 1, 1, 0}},  {"AdminService/UncordonWorker", {0, 0, 1, 1, 0}},
    {"AdminService/DrainWorker", {0, 0, 1, 1, 0}},   {"AdminService/ListAuditEvents", {0, 0, 0, 1, 0}},
    {"WorkerService/RegisterWorker", {0, 0, 0, 0, 1}}, {"WorkerService/Heartbeat", {0, 0, 0, 0, 1}},
    {"WorkerService/ReportMetrics", {0, 0, 0, 0, 1}}, {"WorkerService/WatchAssignments", {0, 0, 0, 0, 1}},
    {"SweepService/CreateSweep", {0, 1, 1, 1, 0}},   {"SweepService/GetSweep", {1, 1, 1, 1, 0}},
    {"SweepService/ListSweeps", {1, 1, 1, 1, 0}},    {"SweepService/CancelSweep", {0, 1, 1, 1, 0}},
};

Principal Caller(int column) {
  if (column == 4) return {Principal::Kind::kWorker, "node-1", Role::kNone, "fp"};
  return {Principal::Kind::kUser, "u", static_cast<Role>(column + 1), ""};
}

class RpcTable : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(RpcTable, CellMatchesTheDocumentedTable) {
  const auto& [method, column] = GetParam();
  auto rule = RuleFor(method);
  ASSERT_TRUE(rule.ok()) << rule.status();
  const absl::Status verdict = Allowed(Caller(column), *rule);
  if (kExpected.at(method)[column]) {
    EXPECT_TRUE(verdict.ok()) << verdict;
  } else {
    EXPECT_EQ(verdict.code(), absl::StatusCode::kPermissionDenied);
  }
}

std::vector<std::tuple<std::string, int>> Cells() {
  std::vector<std::tuple<std::string, int>> cells;
  for (const auto& [method, row] : kExpected) {
    for (int column = 0; column < 5; ++column) cells.emplace_back(method, column);
  }
  return cells;
}

std::string CellName(const ::testing::TestParamInfo<std::tuple<std::string, int>>& cell) {
  static const char* kColumns[] = {"viewer", "submitter", "operator", "admin", "worker"};
  std::string name = std::get<0>(cell.param);
  name.erase(0, name.find('/') + 1);
  return name + "_" + kColumns[std::get<1>(cell.param)];
}

INSTANTIATE_TEST_SUITE_P(AllCells, RpcTable, ::testing::ValuesIn(Cells()), CellName);

TEST(RpcTable, EveryServedMethodHasARule) {
  for (const char* full_name : {"tunefleet.v1.JobService", "tunefleet.v1.AdminService", "tunefleet.v1.WorkerService",
                                "tunefleet.v1.SweepService"}) {
    const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full_name);
    ASSERT_NE(service, nullptr) << full_name;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = service->name() + "/" + service->method(i)->name();
      EXPECT_TRUE(RuleFor(method).ok()) << method << " has no rule";
      EXPECT_TRUE(kExpected.count(method)) << method << " is not in this test's table";
    }
  }
  EXPECT_EQ(RpcRules().size(), kExpected.size());
}

TEST(RpcTable, OwnerOrOperatorForLogsMetricsAndCancel) {
  const RpcRule cancel = *RuleFor("JobService/CancelJob");
  const Principal alice{Principal::Kind::kUser, "alice", Role::kSubmitter, ""};
  const Principal bob{Principal::Kind::kUser, "bob", Role::kSubmitter, ""};
  const Principal ops{Principal::Kind::kUser, "ops", Role::kOperator, ""};
  EXPECT_TRUE(AllowedForOwner(alice, cancel, "alice").ok());
  EXPECT_EQ(AllowedForOwner(bob, cancel, "alice").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(AllowedForOwner(ops, cancel, "alice").ok());
  const RpcRule logs = *RuleFor("JobService/ReadJobLogs");
  const Principal viewer{Principal::Kind::kUser, "v", Role::kViewer, ""};
  EXPECT_EQ(AllowedForOwner(viewer, logs, "alice").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(AllowedForOwner(viewer, *RuleFor("JobService/GetJob"), "alice").ok());
}

TEST(RpcTable, ASweepIsCancelledOnlyByItsOwnerAnOperatorOrAnAdmin) {
  const RpcRule cancel = *RuleFor("SweepService/CancelSweep");
  EXPECT_TRUE(cancel.mutating);
  const Principal alice{Principal::Kind::kUser, "alice", Role::kSubmitter, ""};
  const Principal bob{Principal::Kind::kUser, "bob", Role::kSubmitter, ""};
  const Principal ops{Principal::Kind::kUser, "ops", Role::kOperator, ""};
  EXPECT_TRUE(AllowedForOwner(alice, cancel, "alice").ok());
  EXPECT_EQ(AllowedForOwner(bob, cancel, "alice").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(AllowedForOwner(ops, cancel, "alice").ok());
}

TEST(TokenTable, FindsUsersByTheHashOfTheirToken) {
  const std::string text = "# users\n" + security::Sha256Hex("tok-a") + " alice submitter\n" +
                           security::Sha256Hex("tok-b") + "\tbob viewer\n";
  auto table = TokenTable::Parse(text);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  ASSERT_TRUE(table->Find("tok-a"));
  EXPECT_EQ(table->Find("tok-a")->name, "alice");
  EXPECT_EQ(table->Find("tok-b")->role, Role::kViewer);
  EXPECT_FALSE(table->Find(security::Sha256Hex("tok-a"))) << "the stored hash is not itself a token";
  EXPECT_FALSE(table->Find(""));
  EXPECT_FALSE(TokenTable::Parse("abc alice admin\n").ok());
  EXPECT_FALSE(TokenTable::Parse(security::Sha256Hex("x") + " alice root\n").ok());
}

}  // namespace
}  // namespace tunefleet::coordinator::auth
