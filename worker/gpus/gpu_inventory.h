#pragma once
// This node's GPUs: listed once at start (what the worker registers and hands
// out through CUDA_VISIBLE_DEVICES) and sampled at each /metrics scrape.
// NVML is the real source (nvml_gpu_inventory.h); unit tests use fakes.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tunefleet/v1/worker.pb.h"

namespace tunefleet::worker {

// One GPU now; a figure the device does not report is absent.
struct GpuStatus {
  int32_t index = 0;
  std::string uuid;
  std::optional<double> utilization_ratio;  // 0..1 over NVML's last sample period
  std::optional<int64_t> memory_used_bytes;
  std::optional<int64_t> memory_total_bytes;
};

class GpuInventory {
 public:
  virtual ~GpuInventory() = default;
  // Found at start, in index order (NVML's, which is PCI bus order).
  virtual const std::vector<v1::GpuDevice>& Devices() const = 0;
  // Every GPU of Devices(), now. Thread-safe.
  virtual absl::StatusOr<std::vector<GpuStatus>> Sample() const = 0;
};

}  // namespace tunefleet::worker
