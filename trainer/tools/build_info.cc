#include "trainer/tools/build_info.h"

#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "trainer/train/training_device.h"
#ifdef TUNEFLEET_WITH_CUDA
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

namespace tunefleet {

std::string TrainerBuildInfo() {
  std::string info = absl::StrCat("tunefleet ", TUNEFLEET_VERSION, "\nlibtorch ", TORCH_VERSION);
#ifdef TUNEFLEET_WITH_CUDA
  absl::StrAppend(&info, "\nCUDA ", CUDART_VERSION / 1000, ".", CUDART_VERSION % 1000 / 10, "\nNCCL ", NCCL_MAJOR, ".",
                  NCCL_MINOR, ".", NCCL_PATCH);
#else
  absl::StrAppend(&info, "\nCUDA none (a CPU-only build: Gloo only)");
#endif
  absl::StrAppend(&info, "\nCUDA devices visible: ", VisibleCudaDevices());
  return info;
}

}  // namespace tunefleet
