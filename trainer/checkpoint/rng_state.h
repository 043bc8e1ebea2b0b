#pragma once
// torch's default CPU generator as opaque bytes for TrainerState::rng_states
// (dropout, random init, anything drawn with torch's global RNG). Other
// generators (CUDA, the data sampler's) are the loop's to add as blobs.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tunefleet {

inline constexpr char kTorchCpuRngName[] = "torch_cpu";

absl::StatusOr<std::string> CaptureTorchCpuRngState();
// INVALID_ARGUMENT when `bytes` is not a state this libtorch accepts.
absl::Status RestoreTorchCpuRngState(const std::string& bytes);

}  // namespace tunefleet
