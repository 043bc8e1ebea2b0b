#include "worker/metrics/worker_metrics.h"

#include <optional>

#include <prometheus/metric_family.h>

namespace tunefleet::worker {
namespace {

using Labels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily Family(const std::string& name, const std::string& help, prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddGauge(prometheus::MetricFamily& family, Labels labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

template <typename T>
void AddGauge(prometheus::MetricFamily& family, const Labels& labels, const std::optional<T>& value) {
  if (value) AddGauge(family, labels, static_cast<double>(*value));
}

// "jobs/abc" -> "abc": the coordinator's series use the id, so the two join.
std::string JobId(const std::string& name) {
  const size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
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
  auto eval = Family("tunefleet_rank_eval_loss", "Newest evaluation loss of a running rank", MetricType::Gauge);
  auto tps = Family("tunefleet_rank_tokens_per_second", "Newest throughput of a running rank", MetricType::Gauge);
  auto lr = Family("tunefleet_rank_learning_rate", "Learning rate of a running rank's newest step", MetricType::Gauge);
  auto grad = Family("tunefleet_rank_grad_norm", "Gradient norm (before clipping) of a running rank's newest step",
                     MetricType::Gauge);
  auto save = Family("tunefleet_rank_checkpoint_save_seconds", "Time the newest checkpoint save took to write",
                     MetricType::Gauge);
  auto bytes = Family("tunefleet_rank_checkpoint_bytes", "Size of the newest checkpoint, every rank's files",
                      MetricType::Gauge);
  auto stall = Family("tunefleet_rank_checkpoint_stall_seconds", "Time training paused for the newest checkpoint",
                      MetricType::Gauge);
  auto info = Family("tunefleet_rank_info", "1 per running rank and GPU it holds (gpu_uuid empty on a CPU slot)",
                     MetricType::Gauge);
  for (const auto& [key, figures] : board.ranks) {
    const Labels labels = {{"job", JobId(figures.job)}, {"rank", std::to_string(figures.rank)}, {"worker", worker_}};
    const RankProgress& p = figures.progress;
    AddGauge(step, labels, static_cast<double>(p.step));
    AddGauge(loss, labels, p.train_loss);
    AddGauge(tps, labels, p.tokens_per_second);
    AddGauge(eval, labels, p.eval_loss);
    AddGauge(lr, labels, p.learning_rate);
    AddGauge(grad, labels, p.grad_norm);
    AddGauge(save, labels, p.checkpoint_save_seconds);
    AddGauge(bytes, labels, p.checkpoint_bytes);
    AddGauge(stall, labels, p.checkpoint_stall_seconds);
    const std::vector<std::string> uuids = figures.gpu_uuids.empty() ? std::vector<std::string>{""} : figures.gpu_uuids;
    for (const std::string& uuid : uuids) {
      Labels with_gpu = labels;
      with_gpu.push_back({"gpu_uuid", uuid});
      AddGauge(info, std::move(with_gpu), 1.0);
    }
  }
  std::vector<prometheus::MetricFamily> families = {running, exits, step, loss, eval, tps, lr,
                                                    grad,    save,  bytes, stall, info};
  if (gpus_ == nullptr || gpus_->Devices().empty()) return families;
  // Sampled now, so a scrape sees the GPUs as they are; a failed sample
  // leaves the GPU series out of this scrape rather than showing stale figures.
  auto util = Family("tunefleet_gpu_utilization_ratio", "Fraction of NVML's last sample period a kernel ran",
                     MetricType::Gauge);
  auto used = Family("tunefleet_gpu_memory_used_bytes", "GPU memory in use", MetricType::Gauge);
  auto total = Family("tunefleet_gpu_memory_total_bytes", "GPU memory installed", MetricType::Gauge);
  if (auto sample = gpus_->Sample(); sample.ok()) {
    for (const GpuStatus& gpu : *sample) {
      const Labels labels = {{"worker", worker_}, {"gpu", std::to_string(gpu.index)}, {"uuid", gpu.uuid}};
      AddGauge(util, labels, gpu.utilization_ratio);
      AddGauge(used, labels, gpu.memory_used_bytes);
      AddGauge(total, labels, gpu.memory_total_bytes);
    }
  }
  for (auto* family : {&util, &used, &total}) families.push_back(std::move(*family));
  return families;
}

}  // namespace tunefleet::worker
