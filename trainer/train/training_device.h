#pragma once
// The device one rank trains on: a CUDA GPU when the spec gives each rank
// GPUs (resources.gpus_per_rank > 0), else the CPU.
//
// A launcher either shows a rank only its own GPU (the tunefleet worker sets
// CUDA_VISIBLE_DEVICES) or every GPU of the node with LOCAL_RANK choosing one
// (torchrun); local_rank modulo the visible devices covers both.

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// How many CUDA devices this process sees; a seam for tests (a CPU build of
// libtorch sees none).
using CudaDeviceCount = int (*)();
int VisibleCudaDevices();

// FAILED_PRECONDITION naming resources.gpus_per_rank when GPUs are asked for
// and none is visible: a job must never train on the CPU by surprise.
absl::StatusOr<torch::Device> TrainingDevice(const v1::JobSpec& spec, int local_rank,
                                             CudaDeviceCount visible = VisibleCudaDevices);

// A GPU's memory as the metrics report it: in use on the device (all
// processes, cudaMemGetInfo), its total, and the most this process's tensors
// have held (the caching allocator's peak). Zeros for the CPU.
struct DeviceMemory {
  int64_t used_bytes = 0;
  int64_t total_bytes = 0;
  int64_t peak_allocated_bytes = 0;
};
DeviceMemory MemoryOf(const torch::Device& device);

}  // namespace tunefleet
