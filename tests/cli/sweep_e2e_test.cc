// `tunefleet sweep` against a real coordinator and real workers (fake
// trainer): a 2 x 2 grid runs to the end and `sweep get` shows every point's
// losses and the best one; a cancelled sweep ends every member, and the
// points held back by --max-concurrent never start.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/channel.h>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_test_support.h"
#include "tests/control_plane/cluster.h"
#include "tunefleet/v1/sweep_service.grpc.pb.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;

class SweepCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartCoordinator();
    cluster_.StartWorker("w1", 2);
    cluster_.StartWorker("w2", 2);
    sweeps_ = v1::SweepService::NewStub(cluster_.channel());
  }
  RunResult Cli(const std::vector<std::string>& args) { return RunCli(cluster_.port(), args); }
  // A spec file in the test folder with paths relative to it.
  std::string Spec(const std::string& behaviour) {
    const std::string path = cluster_.dir() + "/spec.yaml";
    WriteFile(path, "display_name: \"fake:" + behaviour +
                        "\"\nmodel:\n  path: model\ndataset:\n  path: train.jsonl\nmethod: {type: lora}\n");
    return path;
  }
  v1::Sweep Get(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::GetSweepRequest request;
    request.set_name(name);
    v1::Sweep sweep;
    const grpc::Status status = sweeps_->GetSweep(&context, request, &sweep);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return sweep;
  }

  Cluster cluster_;
  std::unique_ptr<v1::SweepService::Stub> sweeps_;
};

TEST_F(SweepCliTest, ATwoByTwoGridRunsAndGetShowsEveryPointAndTheBest) {
  // Two step counts (the fake trainer's final losses differ by them) x two learning rates.
  const RunResult submit =
      Cli({"sweep", "submit", Spec("steps=2,step_ms=20,eval_every=1"), "--id", "grid", "--grid",
           "display_name=\"fake:steps=2,step_ms=20,eval_every=1\",\"fake:steps=4,step_ms=20,eval_every=1\"",
           "--grid", "hyperparameters.learning_rate=1e-4,3e-4", "--set", "priority=5"});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  EXPECT_EQ(submit.output, "sweeps/grid (4 jobs)\n");

  v1::Sweep sweep;
  ASSERT_TRUE(WaitUntil(
      [&] {
        sweep = Get("sweeps/grid");
        return sweep.state() != v1::SWEEP_STATE_RUNNING;
      },
      30s))
      << sweep.DebugString();
  EXPECT_EQ(sweep.state(), v1::SWEEP_STATE_SUCCEEDED);
  ASSERT_EQ(sweep.points_size(), 4);
  for (const v1::SweepPoint& point : sweep.points()) EXPECT_TRUE(point.has_eval_loss()) << point.job();
  // 4 steps end lower than 2; the two learning rates tie, and a tie goes to the first in grid order.
  EXPECT_EQ(sweep.best_job(), "jobs/grid-2");
  const v1::Job member = cluster_.GetJob("jobs/grid-3");
  EXPECT_EQ(member.sweep(), "sweeps/grid");
  EXPECT_DOUBLE_EQ(member.spec().hyperparameters().learning_rate(), 3e-4);
  EXPECT_EQ(member.spec().priority(), 5) << "--set applies to every point";
  EXPECT_EQ(member.spec().dataset().path(), cluster_.dir() + "/train.jsonl") << "relative to the spec file";

  const RunResult get = Cli({"sweep", "get", "grid"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_THAT(get.output, HasSubstr("SUCCEEDED"));
  EXPECT_THAT(get.output, HasSubstr("LEARNING_RATE"));
  EXPECT_THAT(get.output, HasSubstr("EVAL LOSS"));
  for (int p = 0; p < 4; ++p) EXPECT_THAT(get.output, HasSubstr("grid-" + std::to_string(p))) << get.output;
  EXPECT_THAT(get.output, HasSubstr("1.4333"));  // 2 steps: 2 - 2/3 + 0.1
  EXPECT_THAT(get.output, HasSubstr("1.3000"));  // 4 steps: 2 - 4/5 + 0.1
  EXPECT_THAT(get.output, HasSubstr("Best: jobs/grid-2"));
  EXPECT_THAT(get.output, HasSubstr("lowest eval loss 1.3000"));

  const RunResult json = Cli({"sweep", "get", "grid", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto parsed = nlohmann::json::parse(json.output);
  EXPECT_EQ(parsed["points"].size(), 4u);
  EXPECT_EQ(parsed["best_job"], "jobs/grid-2");

  const RunResult list = Cli({"sweep", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("sweeps/grid"));
  EXPECT_THAT(list.output, HasSubstr("jobs/grid-2"));
}

TEST_F(SweepCliTest, CancelEndsEveryMemberAndTheHeldPointsNeverStart) {
  const RunResult submit = Cli({"sweep", "submit", Spec("hang"), "--id", "held", "--max-concurrent", "1", "--grid",
                                "priority=1,2", "--grid", "hyperparameters.learning_rate=1e-4,3e-4"});
  ASSERT_EQ(submit.exit_code, 0) << submit.output;
  cluster_.WaitForState("jobs/held-0", v1::JOB_STATE_RUNNING);
  const v1::Sweep running = Get("sweeps/held");
  int started = 0;
  for (const v1::SweepPoint& point : running.points()) started += point.state() == v1::JOB_STATE_RUNNING;
  EXPECT_EQ(started, 1) << "4 free slots, --max-concurrent 1";

  const RunResult cancel = Cli({"sweep", "cancel", "held"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_EQ(cancel.output, "sweeps/held CANCELLED\n");
  for (int p = 0; p < 4; ++p) {
    const std::string job = "jobs/held-" + std::to_string(p);
    EXPECT_EQ(cluster_.GetJob(job).state(), v1::JOB_STATE_CANCELLED) << job;
    if (p > 0) {
      EXPECT_THAT(cluster_.EventLog(job), ::testing::Not(HasSubstr("RUNNING"))) << job;
    }
  }
  const RunResult get = Cli({"sweep", "get", "held", "-o", "json"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_EQ(nlohmann::json::parse(get.output)["state"], "SWEEP_STATE_CANCELLED");
  const RunResult again = Cli({"sweep", "get", "absent"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("sweeps/absent not found"));
}

TEST_F(SweepCliTest, ABadAxisIsNamedBeforeAnythingIsSent) {
  const RunResult bad = Cli({"sweep", "submit", Spec("steps=1"), "--grid", "method.lora.rnak=4,8"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("method.lora.rnak"));
  const RunResult list = Cli({"sweep", "list", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_FALSE(nlohmann::json::parse(list.output).contains("sweeps"));
}

}  // namespace
}  // namespace tunefleet::testing
