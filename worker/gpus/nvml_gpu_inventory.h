#pragma once
// GPUs through NVML, which ships with the NVIDIA driver: libnvidia-ml.so.1 is
// opened with dlopen at run time, so the worker builds and runs without it.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/gpus/gpu_inventory.h"

namespace tunefleet::worker {

inline constexpr char kNvmlLibrary[] = "libnvidia-ml.so.1";

// NOT_FOUND when `library` cannot be loaded (no driver: a CPU node);
// another error when it loads but NVML fails. Zero GPUs is a success.
absl::StatusOr<std::unique_ptr<GpuInventory>> OpenNvmlInventory(const std::string& library = kNvmlLibrary);

}  // namespace tunefleet::worker
