#include "trainer/train/training_device.h"

#include "absl/strings/str_cat.h"

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

}  // namespace tunefleet
