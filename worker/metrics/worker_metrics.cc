#include "worker/metrics/worker_metrics.h"

#include <optional>

#include <prometheus/metric_family.h>

#include "common/metrics_endpoint.h"

namespace tunefleet::worker {
namespace {

using Labels = MetricLabels;
using tunefleet::AddSample;

// A figure the rank has not reported yet has no series, not a zero.
template <typename T>
void AddSample(prometheus::MetricFamily& family, const Labels& labels, const std::optional<T>& value) {
  if (value) tunefleet::AddSample(family, labels, static_cast<double>(*value));
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
  auto running = MetricFamilyOf("tunefleet_worker_ranks_running", "Trainer ranks running on this worker", MetricType::Gauge);
  AddSample(running, {{"worker", worker_}}, static_cast<double>(board.live.size()));
  auto exits = MetricFamilyOf("tunefleet_worker_trainer_exits_total", "Trainer processes that exited, by exit code",
                              MetricType::Counter);
  for (const auto& [code, count] : board.exits_by_code) {
    AddSample(exits, {{"code", std::to_string(code)}, {"worker", worker_}}, static_cast<double>(count));
  }
  auto step = MetricFamilyOf("tunefleet_rank_step", "Newest training step of a running rank", MetricType::Gauge);
  auto loss = MetricFamilyOf("tunefleet_rank_train_loss", "Newest training loss of a running rank", MetricType::Gauge);
  auto eval = MetricFamilyOf("tunefleet_rank_eval_loss", "Newest evaluation loss of a running rank", MetricType::Gauge);
  auto tps = MetricFamilyOf("tunefleet_rank_tokens_per_second", "Newest throughput of a running rank", MetricType::Gauge);
  auto lr = MetricFamilyOf("tunefleet_rank_learning_rate", "Learning rate of a running rank's newest step", MetricType::Gauge);
  auto grad = MetricFamilyOf("tunefleet_rank_grad_norm", "Gradient norm (before clipping) of a running rank's newest step",
                     MetricType::Gauge);
  auto save = MetricFamilyOf("tunefleet_rank_checkpoint_save_seconds", "Time the newest checkpoint save took to write",
                     MetricType::Gauge);
  auto bytes = MetricFamilyOf("tunefleet_rank_checkpoint_bytes", "Size of the newest checkpoint, every rank's files",
                      MetricType::Gauge);
  auto stall = MetricFamilyOf("tunefleet_rank_checkpoint_stall_seconds", "Time training paused for the newest checkpoint",
                      MetricType::Gauge);
  auto info = MetricFamilyOf("tunefleet_rank_info", "1 per running rank and GPU it holds (gpu_uuid empty on a CPU slot)",
                     MetricType::Gauge);
  for (const auto& [key, figures] : board.ranks) {
    const Labels labels = {{"job", JobId(figures.job)}, {"rank", std::to_string(figures.rank)}, {"worker", worker_}};
    const RankProgress& p = figures.progress;
    AddSample(step, labels, static_cast<double>(p.step));
    AddSample(loss, labels, p.train_loss);
    AddSample(tps, labels, p.tokens_per_second);
    AddSample(eval, labels, p.eval_loss);
    AddSample(lr, labels, p.learning_rate);
    AddSample(grad, labels, p.grad_norm);
    AddSample(save, labels, p.checkpoint_save_seconds);
    AddSample(bytes, labels, p.checkpoint_bytes);
    AddSample(stall, labels, p.checkpoint_stall_seconds);
    const std::vector<std::string> uuids = figures.gpu_uuids.empty() ? std::vector<std::string>{""} : figures.gpu_uuids;
    for (const std::string& uuid : uuids) {
      Labels with_gpu = labels;
      with_gpu.push_back({"gpu_uuid", uuid});
      AddSample(info, std::move(with_gpu), 1.0);
    }
  }
  std::vector<prometheus::MetricFamily> families = {running, exits, step, loss, eval, tps, lr,
                                                    grad,    save,  bytes, stall, info};
  if (gpus_ == nullptr || gpus_->Devices().empty()) return families;
  // Sampled now, so a scrape sees the GPUs as they are; a failed sample
  // leaves the GPU series out of this scrape rather than showing stale figures.
  auto util = MetricFamilyOf("tunefleet_gpu_utilization_ratio", "Fraction of NVML's last sample period a kernel ran",
                     MetricType::Gauge);
  auto used = MetricFamilyOf("tunefleet_gpu_memory_used_bytes", "GPU memory in use", MetricType::Gauge);
  auto total = MetricFamilyOf("tunefleet_gpu_memory_total_bytes", "GPU memory installed", MetricType::Gauge);
  if (auto sample = gpus_->Sample(); sample.ok()) {
    for (const GpuStatus& gpu : *sample) {
      const Labels labels = {{"worker", worker_}, {"gpu", std::to_string(gpu.index)}, {"uuid", gpu.uuid}};
      AddSample(util, labels, gpu.utilization_ratio);
      AddSample(used, labels, gpu.memory_used_bytes);
      AddSample(total, labels, gpu.memory_total_bytes);
    }
  }
  for (auto* family : {&util, &used, &total}) families.push_back(std::move(*family));
  return families;
}

}  // namespace tunefleet::worker
