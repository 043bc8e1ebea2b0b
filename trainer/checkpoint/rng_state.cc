#include "trainer/checkpoint/rng_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <cstring>
#include <exception>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<std::string> CaptureTorchCpuRngState() {
  try {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    const torch::Tensor state = generator.get_state();  // uint8, contiguous
    return std::string(static_cast<const char*>(state.data_ptr()), static_cast<size_t>(state.numel()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot capture the torch CPU RNG state: ", e.what()));
  }
}

absl::Status RestoreTorchCpuRngState(const std::string& bytes) {
  try {
    torch::Tensor state = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
    if (!bytes.empty()) std::memcpy(state.data_ptr(), bytes.data(), bytes.size());
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot restore the torch CPU RNG state: ", e.what()));
  }
}

}  // namespace tunefleet
