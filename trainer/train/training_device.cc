#include "trainer/train/training_device.h"

#include "absl/strings/str_cat.h"
#ifdef TUNEFLEET_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace tunefleet {

int VisibleCudaDevices() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

absl::StatusOr<torch::Device> TrainingDevice(const v1::JobSpec& spec, int local_rank, CudaDeviceCount visible) {
  const int gpus = spec.resources().gpus_per_rank();
  if (gpus <= 0) return torch::Device(torch::kCPU);
  const int count = visible();
  if (count <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "resources.gpus_per_rank is ", gpus,
        " but this tunefleet-trainer sees no CUDA device (a CPU build, or CUDA_VISIBLE_DEVICES hides them);"
        " set resources.gpus_per_rank: 0 to train on the CPU"));
  }
  if (gpus > 1) {
    // One process per GPU is how data parallelism runs here; more GPUs per
    // rank would need model parallelism, which the trainer does not do.
    return absl::InvalidArgumentError(
        absl::StrCat("resources.gpus_per_rank is ", gpus, ": a rank trains on one GPU; use world_size for more"));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>((local_rank < 0 ? 0 : local_rank) % count));
}

DeviceMemory MemoryOf(const torch::Device& device) {
  DeviceMemory memory;
#ifdef TUNEFLEET_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(device);
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) {
      memory.used_bytes = static_cast<int64_t>(total - free);
      memory.total_bytes = static_cast<int64_t>(total);
    }
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    memory.peak_allocated_bytes =
        stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  }
#else
  (void)device;
#endif
  return memory;
}

}  // namespace tunefleet
