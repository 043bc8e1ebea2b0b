// What /metrics shows for a board snapshot and a GPU inventory: names, labels,
// absent figures left out, GPU series only where there are GPUs.

#include "worker/metrics/worker_metrics.h"

#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

namespace tunefleet::worker {
namespace {

class FakeGpus final : public GpuInventory {
 public:
  FakeGpus() {
    v1::GpuDevice gpu;
    gpu.set_index(0);
    gpu.set_uuid("GPU-aaaa");
    devices_.push_back(gpu);
    gpu.set_index(1);
    gpu.set_uuid("GPU-bbbb");
    devices_.push_back(gpu);
  }
  const std::vector<v1::GpuDevice>& Devices() const override { return devices_; }
  absl::StatusOr<std::vector<GpuStatus>> Sample() const override {
    if (fail) return absl::UnavailableError("GPU fell off the bus");
    GpuStatus a{0, "GPU-aaaa", 0.75, int64_t{3} << 30, int64_t{80} << 30};
    GpuStatus b{1, "GPU-bbbb", std::nullopt, std::nullopt, std::nullopt};  // reports nothing
    return std::vector<GpuStatus>{a, b};
  }
  bool fail = false;

 private:
  std::vector<v1::GpuDevice> devices_;
};

// "name{l1="v1",...}" -> value, for every series.
std::map<std::string, double> Series(const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> out;
  for (const auto& family : families) {
    for (const auto& metric : family.metric) {
      std::ostringstream key;
      key << family.name << "{";
      for (size_t i = 0; i < metric.label.size(); ++i) {
        key << (i ? "," : "") << metric.label[i].name << "=\"" << metric.label[i].value << "\"";
      }
      key << "}";
      out[key.str()] = family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
    }
  }
  return out;
}

BoardSnapshot TwoRanks() {
  BoardSnapshot board;
  RankFigures gpu_rank;
  gpu_rank.job = "jobs/j1";  // the label is the id, as in the coordinator's series
  gpu_rank.rank = 0;
  gpu_rank.progress.step = 7;
  gpu_rank.progress.train_loss = 2.5;
  gpu_rank.progress.tokens_per_second = 900;
  gpu_rank.progress.learning_rate = 1e-4;
  gpu_rank.progress.grad_norm = 0.8;
  gpu_rank.progress.eval_loss = 2.25;
  gpu_rank.progress.checkpoint_save_seconds = 0.4;
  gpu_rank.progress.checkpoint_bytes = 123456;
  gpu_rank.progress.checkpoint_stall_seconds = 0.01;
  gpu_rank.gpu_uuids = {"GPU-bbbb"};
  board.live.emplace("j1", 1, 0);
  board.ranks[{"j1", 1, 0}] = gpu_rank;
  RankFigures cpu_rank;  // no optional figure reported yet, no GPU
  cpu_rank.job = "jobs/j2";
  cpu_rank.rank = 1;
  board.live.emplace("j2", 1, 1);
  board.ranks[{"j2", 1, 1}] = cpu_rank;
  return board;
}

TEST(WorkerMetrics, RankFiguresAndRankInfo) {
  WorkerStatusBoard board;
  board.Publish(TwoRanks());
  const auto series = Series(WorkerMetrics("w1", board).Collect());
  const std::string j1 = R"({job="j1",rank="0",worker="w1"})";
  const std::string j2 = R"({job="j2",rank="1",worker="w1"})";
  EXPECT_EQ(series.at("tunefleet_worker_ranks_running{worker=\"w1\"}"), 2);
  EXPECT_EQ(series.at("tunefleet_rank_step" + j1), 7);
  EXPECT_EQ(series.at("tunefleet_rank_train_loss" + j1), 2.5);
  EXPECT_EQ(series.at("tunefleet_rank_tokens_per_second" + j1), 900);
  EXPECT_EQ(series.at("tunefleet_rank_learning_rate" + j1), 1e-4);
  EXPECT_EQ(series.at("tunefleet_rank_grad_norm" + j1), 0.8);
  EXPECT_EQ(series.at("tunefleet_rank_eval_loss" + j1), 2.25);
  EXPECT_EQ(series.at("tunefleet_rank_checkpoint_save_seconds" + j1), 0.4);
  EXPECT_EQ(series.at("tunefleet_rank_checkpoint_bytes" + j1), 123456);
  EXPECT_EQ(series.at("tunefleet_rank_checkpoint_stall_seconds" + j1), 0.01);
  EXPECT_EQ(series.at(R"(tunefleet_rank_info{job="j1",rank="0",worker="w1",gpu_uuid="GPU-bbbb"})"), 1);
  EXPECT_EQ(series.at(R"(tunefleet_rank_info{job="j2",rank="1",worker="w1",gpu_uuid=""})"), 1);
  // Figures a rank has not reported are absent, not zero.
  EXPECT_EQ(series.at("tunefleet_rank_step" + j2), 0);
  for (const char* name : {"tunefleet_rank_eval_loss", "tunefleet_rank_learning_rate", "tunefleet_rank_grad_norm",
                           "tunefleet_rank_checkpoint_save_seconds", "tunefleet_rank_checkpoint_bytes",
                           "tunefleet_rank_checkpoint_stall_seconds"}) {
    EXPECT_EQ(series.count(name + j2), 0u) << name;
  }
  // No GPU inventory: no GPU series at all.
  for (const auto& [key, value] : series) EXPECT_EQ(key.rfind("tunefleet_gpu_", 0), std::string::npos) << key;

  // A finished job's ranks leave the board, and their series go with them.
  BoardSnapshot later = TwoRanks();
  later.live.erase({"j1", 1, 0});
  later.ranks.erase({"j1", 1, 0});
  board.Publish(later);
  for (const auto& [key, value] : Series(WorkerMetrics("w1", board).Collect())) {
    EXPECT_EQ(key.find("job=\"j1\""), std::string::npos) << key;
  }
}

TEST(WorkerMetrics, GpuGaugesAreSampledAtScrapeTime) {
  WorkerStatusBoard board;
  FakeGpus gpus;
  WorkerMetrics metrics("w1", board, &gpus);
  auto series = Series(metrics.Collect());
  EXPECT_EQ(series.at(R"(tunefleet_gpu_utilization_ratio{worker="w1",gpu="0",uuid="GPU-aaaa"})"), 0.75);
  EXPECT_EQ(series.at(R"(tunefleet_gpu_memory_used_bytes{worker="w1",gpu="0",uuid="GPU-aaaa"})"), 3.0 * (1 << 30));
  EXPECT_EQ(series.at(R"(tunefleet_gpu_memory_total_bytes{worker="w1",gpu="0",uuid="GPU-aaaa"})"), 80.0 * (1 << 30));
  EXPECT_EQ(series.count(R"(tunefleet_gpu_utilization_ratio{worker="w1",gpu="1",uuid="GPU-bbbb"})"), 0u);
  gpus.fail = true;  // a failed sample shows no GPU figures rather than stale ones
  series = Series(metrics.Collect());
  for (const auto& [key, value] : series) EXPECT_EQ(key.rfind("tunefleet_gpu_", 0), std::string::npos) << key;
  EXPECT_EQ(series.count("tunefleet_worker_ranks_running{worker=\"w1\"}"), 1u);
}

}  // namespace
}  // namespace tunefleet::worker
