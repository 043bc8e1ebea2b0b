// The tunefleet CLI against a real coordinator and real workers (fake trainer):
// every verb, every output format, and the error paths a user meets first.

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "common/security/cluster_pki.h"
#include "tests/cli/cli_test_support.h"
#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.StartCoordinator();
    cluster_.StartWorker("w1");
    cluster_.StartWorker("w2");
  }
  RunResult Cli(const std::vector<std::string>& args) { return RunCli(cluster_.port(), args); }
  // A spec file in the test folder with paths relative to it.
  std::string Spec(const std::string& behaviour, const std::string& extra = "") {
    const std::string path = cluster_.dir() + "/spec.yaml";
    WriteFile(path, "display_name: \"fake:" + behaviour + "\"\nmodel:\n  path: model\ndataset:\n  path: train.jsonl\n" +
                        extra);
    return path;
  }
  std::string Submit(const std::string& behaviour, const std::string& id, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {"submit", Spec(behaviour), "--id", id};
    args.insert(args.end(), more.begin(), more.end());
    const RunResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "jobs/" + id + "\n");
    return "jobs/" + id;
  }
  // Workers report a finished gang's slots free a heartbeat later; tables wait for it.
  void WaitWorkersIdle() {
    ASSERT_TRUE(WaitUntil(
        [&] { return cluster_.GetWorker("w1").slots_busy() == 0 && cluster_.GetWorker("w2").slots_busy() == 0; },
        10s));
  }

  Cluster cluster_;
};

TEST_F(CliTest, SubmitWatchGetListAcrossFormats) {
  const std::string job = Submit("steps=4,step_ms=50", "golden-job", {"--set", "resources.world_size=2"});
  const RunResult watch = Cli({"watch", "golden-job"});
  EXPECT_EQ(watch.exit_code, 0) << watch.output;
  EXPECT_THAT(watch.output, HasSubstr("QUEUED  attempt 1"));
  EXPECT_THAT(watch.output, HasSubstr("SUCCEEDED  attempt 1"));
  EXPECT_THAT(watch.output, HasSubstr("jobs/golden-job SUCCEEDED"));
  WaitWorkersIdle();

  // The spec's relative paths resolved against the spec file's folder; --set applied.
  const RunResult json = Cli({"get", job, "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto parsed = nlohmann::json::parse(json.output);
  EXPECT_EQ(parsed["state"], "JOB_STATE_SUCCEEDED");
  EXPECT_EQ(parsed["spec"]["model"]["path"], cluster_.dir() + "/model");
  EXPECT_EQ(parsed["spec"]["resources"]["world_size"], 2);

  const RunResult yaml = Cli({"get", job, "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.output;
  const YAML::Node node = YAML::Load(yaml.output);
  EXPECT_EQ(node["state"].as<std::string>(), "JOB_STATE_SUCCEEDED");
  EXPECT_EQ(node["spec"]["dataset"]["path"].as<std::string>(), cluster_.dir() + "/train.jsonl");

  const RunResult get = Cli({"get", "golden-job"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  ExpectGolden("get_job.txt", Normalise(get.output, cluster_.dir()));

  const RunResult list = Cli({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  ExpectGolden("list_jobs.txt", Normalise(list.output, cluster_.dir()));
  const RunResult list_json = Cli({"list", "-o", "json", "--state", "succeeded"});
  ASSERT_EQ(list_json.exit_code, 0) << list_json.output;
  EXPECT_EQ(nlohmann::json::parse(list_json.output)["jobs"].size(), 1u);
  const RunResult list_yaml = Cli({"list", "-o", "yaml", "--state", "failed"});
  ASSERT_EQ(list_yaml.exit_code, 0) << list_yaml.output;
  EXPECT_FALSE(YAML::Load(list_yaml.output)["jobs"].IsDefined());

  const RunResult workers = Cli({"workers"});
  ASSERT_EQ(workers.exit_code, 0) << workers.output;
  ExpectGolden("workers.txt", Normalise(workers.output, cluster_.dir()));

  const RunResult logs = Cli({"logs", job, "--rank", "1"});
  EXPECT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_THAT(logs.output, HasSubstr("RANK=1 WORLD_SIZE=2"));
  EXPECT_THAT(logs.output, HasSubstr("step 4/4"));

  const std::string svg = cluster_.dir() + "/loss.svg";
  const RunResult plot = Cli({"plot", job, "--out", svg});
  EXPECT_EQ(plot.exit_code, 0) << plot.output;
  EXPECT_THAT(ReadFileText(svg), HasSubstr("<polyline"));
}

TEST_F(CliTest, LogsFollowEndsWithTheJob) {
  const std::string job = Submit("steps=10,step_ms=100", "follow-job");
  // Follow a rank that is running (a follow that lands in the instant between
  // the log's creation and the rank being marked live ends early: a worker race).
  cluster_.WaitForJob(job, [](const v1::Job& j) { return j.progress().step() >= 1; });
  const RunResult logs = Cli({"logs", job, "-f"});
  EXPECT_EQ(logs.exit_code, 0) << logs.output;
  EXPECT_THAT(logs.output, HasSubstr("step 10/10"));
}

TEST_F(CliTest, WatchExitsNonZeroWithTheReasonWhenTheJobFails) {
  Submit("exit=3", "failing-job", {"--set", "restart.max_restarts=0"});
  const RunResult watch = Cli({"watch", "failing-job"});
  EXPECT_EQ(watch.exit_code, 3) << watch.output;
  EXPECT_THAT(watch.output, HasSubstr("tunefleet: jobs/failing-job FAILED"));
}

TEST_F(CliTest, CancelThenWatchSaysCancelled) {
  const std::string job = Submit("hang", "hanging-job");
  cluster_.WaitForState(job, v1::JOB_STATE_RUNNING);
  const RunResult cancel = Cli({"cancel", "hanging-job"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
  EXPECT_EQ(cancel.output, "jobs/hanging-job CANCELLED\n");
  const RunResult watch = Cli({"watch", job});
  EXPECT_EQ(watch.exit_code, 4) << watch.output;
  EXPECT_THAT(watch.output, HasSubstr("CANCELLED"));
  const RunResult again = Cli({"cancel", job});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("tunefleet: FAILED_PRECONDITION: "));
}

TEST_F(CliTest, CordonUncordonDrain) {
  EXPECT_EQ(Cli({"cordon", "w1"}).output, "workers/w1 CORDONED\n");
  ExpectGolden("workers_cordoned.txt", Normalise(Cli({"workers"}).output, cluster_.dir()));
  EXPECT_EQ(Cli({"uncordon", "workers/w1"}).output, "workers/w1 READY\n");
  const RunResult drain = Cli({"drain", "w2", "--deadline", "1"});
  EXPECT_EQ(drain.exit_code, 0) << drain.output;
  EXPECT_THAT(drain.output, ::testing::AnyOf(HasSubstr("DRAINING"), HasSubstr("DRAINED")));
  const RunResult json = Cli({"workers", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_EQ(nlohmann::json::parse(json.output)["workers"].size(), 2u);
  const RunResult yaml = Cli({"workers", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.output;
  EXPECT_EQ(YAML::Load(yaml.output)["workers"][0]["name"].as<std::string>(), "workers/w1");
}

TEST_F(CliTest, AuditShowsWhoChangedWhatAndRolesAreEnforced) {
  ASSERT_EQ(Cli({"cordon", "w1"}).exit_code, 0);
  const RunResult audit = Cli({"audit"});
  ASSERT_EQ(audit.exit_code, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("user:admin"));
  EXPECT_THAT(audit.output, HasSubstr("AdminService/CordonWorker"));
  EXPECT_THAT(audit.output, HasSubstr("worker:w1"));  // its registration
  // A viewer's token: reads pass, changes are refused and audited.
  const auto token = security::AddUserToken(cluster_.pki(), "val", "viewer");  // read at start: restart
  ASSERT_TRUE(token.ok());
  cluster_.KillCoordinator();
  cluster_.StartCoordinator(cluster_.port());
  WriteFile(cluster_.dir() + "/val.token", *token);
  const std::vector<std::string> as_val = {"--token-file", cluster_.dir() + "/val.token"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), as_val.begin(), as_val.end());
    return Cli(args);
  };
  EXPECT_EQ(with({"list"}).exit_code, 0);
  const RunResult cordon = with({"cordon", "w2"});
  EXPECT_EQ(cordon.exit_code, 1);
  EXPECT_THAT(cordon.output, HasSubstr("PERMISSION_DENIED: AdminService/CordonWorker needs role operator"));
  EXPECT_THAT(Cli({"audit"}).output, HasSubstr("user:val"));
}

TEST_F(CliTest, ServerErrorsAreOneLineAndNonZero) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"get", "nope"}, {"watch", "nope"}, {"cancel", "nope"}, {"logs", "nope"}}) {
    const RunResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.output;
    EXPECT_EQ(r.output, "tunefleet: NOT_FOUND: jobs/nope not found\n") << args[0];
  }
  const RunResult worker = Cli({"cordon", "ghost"});
  EXPECT_EQ(worker.exit_code, 1);
  EXPECT_THAT(worker.output, ::testing::StartsWith("tunefleet: NOT_FOUND: "));
  const RunResult format = Cli({"list", "-o", "xml"});
  EXPECT_EQ(format.exit_code, 1);
  EXPECT_EQ(format.output, "tunefleet: INVALID_ARGUMENT: unknown output format \"xml\" (table, json or yaml)\n");
}

TEST(CliErrors, UnreachableCoordinatorFailsFastNamingTheAddress) {
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = RunCommand({kCli, "--insecure", "--coordinator", "127.0.0.1:1", "list"}, 20s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output,
            "tunefleet: UNAVAILABLE: cannot reach the coordinator at 127.0.0.1:1 (set --coordinator or "
            "TUNEFLEET_COORDINATOR; is it running?)\n");
}

TEST(CliErrors, NoCredentialsSaysWhereToGetThem) {
  const std::string dir = FreshTestDirectory();
  const RunResult r = RunCommand({kCli, "--config", dir + "/absent", "--coordinator", "127.0.0.1:1", "list"}, 20s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("UNAUTHENTICATED: no credentials: run `tunefleet up`"));
  const RunResult remote = RunCommand({kCli, "--insecure", "--coordinator", "10.1.2.3:50051", "list"}, 20s);
  EXPECT_EQ(remote.exit_code, 1);
  EXPECT_THAT(remote.output, HasSubstr("--insecure is only for a coordinator on loopback"));
}

TEST(CliErrors, BadSpecFileNamesFileAndLine) {
  const std::string dir = FreshTestDirectory();
  WriteFile(dir + "/bad.yaml", "display_name: x\nmodel:\n  path: m\nresources:\n  world_siz: 2\n");
  const RunResult r = RunCommand({kCli, "--coordinator", "127.0.0.1:1", "submit", dir + "/bad.yaml"}, 20s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("bad.yaml:5:"));
  EXPECT_THAT(r.output, HasSubstr("world_siz"));
  WriteFile(dir + "/good.yaml", "model:\n  path: m\ndataset:\n  path: d.jsonl\n");
  const RunResult set = RunCommand({kCli, "submit", dir + "/good.yaml", "--set", "resources.world_siz=2"}, 20s);
  EXPECT_EQ(set.exit_code, 1);
  EXPECT_THAT(set.output, HasSubstr("--set resources.world_siz=2: "));
  const RunResult missing = RunCommand({kCli, "submit", dir + "/absent.yaml"}, 20s);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("absent.yaml"));
}

TEST(CliPlot, MetricsFileToSvgAndPng) {
  const std::string dir = FreshTestDirectory();
  WriteFile(dir + "/m.jsonl",
            "{\"event\":\"step\",\"rank\":0,\"step\":1,\"train_loss\":2.0}\n"
            "{\"event\":\"step\",\"rank\":0,\"step\":2,\"train_loss\":1.5}\n"
            "{\"event\":\"eval\",\"rank\":0,\"step\":2,\"eval_loss\":1.7}\n");
  const RunResult svg = RunCommand({kCli, "plot", "--metrics-file", dir + "/m.jsonl", "--out", dir + "/l.svg"}, 20s);
  EXPECT_EQ(svg.exit_code, 0) << svg.output;
  EXPECT_EQ(svg.output, dir + "/l.svg (2 train points, 1 eval points)\n");
  const RunResult png = RunCommand({kCli, "plot", "--metrics-file", dir + "/m.jsonl", "--out", dir + "/l.png"}, 20s);
  EXPECT_EQ(png.exit_code, 0) << png.output;
  EXPECT_EQ(ReadFileText(dir + "/l.png").substr(1, 3), "PNG");
}

}  // namespace
}  // namespace tunefleet::testing
