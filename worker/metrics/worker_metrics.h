#pragma once
// The worker's Prometheus metrics, built at scrape time from the status
// board, so a finished rank's series simply stop existing (bounded labels).
// GPU utilisation and memory are not exported: this build has no NVML; they
// belong here once GPU discovery lands (docs/operations.md says so).

#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "worker/agent/worker_status_board.h"

namespace tunefleet::worker {

class WorkerMetrics final : public prometheus::Collectable {
 public:
  WorkerMetrics(std::string worker, const WorkerStatusBoard& board) : worker_(std::move(worker)), board_(board) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string worker_;
  const WorkerStatusBoard& board_;
};

}  // namespace tunefleet::worker
