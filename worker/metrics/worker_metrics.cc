#include "worker/metrics/worker_metrics.h"

#include <prometheus/metric_family.h>

namespace tunefleet::worker {
namespace {

prometheus::MetricFamily Family(const std::string& name, const std::string& help, prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddGauge(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

}  // namespace

std::vector<prometheus::MetricFamily> WorkerMetrics::Collect() const {
  const BoardSnapshot board = board_.Read();
  using prometheus::MetricType;
  auto running = Family("tunefleet_worker_ranks_running", "Trainer ranks running on this worker", MetricType::Gauge);
  AddGauge(running, {{"worker", worker_}}, static_cast<double>(board.live.size()));
  auto exits = Family("tunefleet_worker_trainer_exits_total", "Trainer processes that exited, by exit code",
                      MetricType::Counter);
  for (const auto& [code, count] : board.exits_by_code) {
    prometheus::ClientMetric metric;
    metric.label = {{"code", std::to_string(code)}, {"worker", worker_}};
    metric.counter.value = static_cast<double>(count);
    exits.metric.push_back(std::move(metric));
  }
  auto step = Family("tunefleet_rank_step", "Newest training step of a running rank", MetricType::Gauge);
  auto loss = Family("tunefleet_rank_train_loss", "Newest training loss of a running rank", MetricType::Gauge);
  auto tps = Family("tunefleet_rank_tokens_per_second", "Newest throughput of a running rank", MetricType::Gauge);
  for (const auto& [key, figures] : board.ranks) {
    std::vector<prometheus::ClientMetric::Label> labels = {
        {"job", figures.job}, {"rank", std::to_string(figures.rank)}, {"worker", worker_}};
    AddGauge(step, labels, static_cast<double>(figures.step));
    AddGauge(loss, labels, figures.train_loss);
    AddGauge(tps, labels, figures.tokens_per_second);
  }
  return {running, exits, step, loss, tps};
}

}  // namespace tunefleet::worker
