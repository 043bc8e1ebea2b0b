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

}  // namespace tunefleet
