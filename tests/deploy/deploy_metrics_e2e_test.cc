// Every tunefleet metric that a Grafana panel (deploy/grafana/*.json) or an
// alert rule (deploy/prometheus/*.yaml) queries must be exported by the real
// daemons: a coordinator and a worker run a job (fake trainer) past its first
// checkpoint, their /metrics are scraped, and each queried name must have a
// `# TYPE` line. Names are compared without a histogram's _bucket/_sum/_count.
// Only tunefleet_* names are checked (DCGM_FI_* come from NVIDIA's exporter).
//
// Exempt, because they exist only where the worker finds a GPU and this
// machine has none: kGpuOnly below (docs/operations.md says the same).


#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"
#include "tests/testing/http_get.h"

namespace tunefleet::testing {
namespace {

const std::set<std::string> kGpuOnly = {
    "tunefleet_gpu_utilization_ratio",
    "tunefleet_gpu_memory_used_bytes",
    "tunefleet_gpu_memory_total_bytes",
};


// tunefleet_* names in a file, histogram suffixes removed.
std::set<std::string> QueriedMetrics(const std::string& text) {
  std::set<std::string> names;
  const std::regex name(R"(tunefleet_[a-z0-9_]*[a-z0-9])");
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
    std::string n = it->str();
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
        n.resize(n.size() - suffix.size());
        break;
      }
    }
    names.insert(n);
  }
  return names;
}

// file -> names it queries, for every dashboard and rules file.
std::map<std::string, std::set<std::string>> DeployQueries() {
  std::map<std::string, std::set<std::string>> out;
  for (const std::string dir : {"deploy/grafana", "deploy/prometheus"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(TUNEFLEET_SOURCE_DIR) + "/" + dir)) {
      const std::string ext = entry.path().extension();
      if (ext != ".json" && ext != ".yaml" && ext != ".yml") continue;
      out[dir + "/" + entry.path().filename().string()] = QueriedMetrics(ReadFile(entry.path()));
    }
  }
  return out;
}

TEST(DeployMetricsE2e, QueriedNamesAreFoundInDashboardsAndRules) {
  const auto queries = DeployQueries();
  ASSERT_TRUE(queries.count("deploy/grafana/tunefleet-cluster.json"));
  ASSERT_TRUE(queries.count("deploy/grafana/tunefleet-job.json"));
  ASSERT_TRUE(queries.count("deploy/prometheus/tunefleet-alerts.yaml"));
  const auto& job = queries.at("deploy/grafana/tunefleet-job.json");
  EXPECT_TRUE(job.count("tunefleet_job_train_loss"));
  EXPECT_TRUE(job.count("tunefleet_job_task_train_loss"));  // the multi-task panels
  EXPECT_TRUE(job.count("tunefleet_job_step_seconds"));     // the step time by phase
  EXPECT_TRUE(job.count("tunefleet_rank_info"));
  EXPECT_TRUE(queries.at("deploy/grafana/tunefleet-cluster.json").count("tunefleet_job_queue_wait_seconds"))
      << "histogram suffix not stripped";
  EXPECT_THAT(QueriedMetrics("rate(tunefleet_rpc_duration_seconds_bucket[5m]) tunefleet_restarts_total"),
              ::testing::ElementsAre("tunefleet_restarts_total", "tunefleet_rpc_duration_seconds"));
}

TEST(DeployMetricsE2e, EveryMetricADashboardOrAlertQueriesIsExported) {
  Cluster cluster;
  cluster.StartCoordinator();
  cluster.StartWorker("w1");
  v1::Job job = cluster.Submit(cluster.FakeJob("steps=100000,step_ms=20,ckpt_every=3"));
  cluster.WaitForJob(job.name(), [](const v1::Job& j) { return j.progress().last_checkpoint_step() >= 3; });
  ASSERT_EQ(cluster.GetJob(job.name()).state(), v1::JOB_STATE_RUNNING);
  const int coordinator_port = std::stoi(ReadFile(cluster.dir() + "/coordinator.metrics-port"));
  const int worker_port = std::stoi(ReadFile(cluster.WorkerDir("w1") + ".metrics-port"));
  const std::string scraped = HttpGetLocal(coordinator_port) + HttpGetLocal(worker_port);
  ASSERT_THAT(scraped, ::testing::HasSubstr("# TYPE tunefleet_queue_length "));

  size_t checked = 0;
  for (const auto& [file, names] : DeployQueries()) {
    for (const std::string& name : names) {
      if (kGpuOnly.count(name)) continue;
      ++checked;
      EXPECT_THAT(scraped, ::testing::HasSubstr("# TYPE " + name + " "))
          << file << " queries " << name << ", which neither daemon exports";
    }
  }
  EXPECT_GE(checked, 40u);
}

}  // namespace
}  // namespace tunefleet::testing
