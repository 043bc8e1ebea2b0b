#pragma once
// The worker's Prometheus metrics, built at scrape time from the status board
// (so a finished rank's series simply stop existing: bounded labels) and, on
// a GPU node, from an NVML sample taken during the scrape.

#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "worker/agent/worker_status_board.h"
#include "worker/gpus/gpu_inventory.h"

namespace tunefleet::worker {

class WorkerMetrics final : public prometheus::Collectable {
 public:
  // `gpus` may be null (a CPU node); both must outlive this.
  WorkerMetrics(std::string worker, const WorkerStatusBoard& board, const GpuInventory* gpus = nullptr)
      : worker_(std::move(worker)), board_(board), gpus_(gpus) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string worker_;
  const WorkerStatusBoard& board_;
  const GpuInventory* const gpus_;
};

}  // namespace tunefleet::worker
