#pragma once
// The bridge between safetensors views and torch::Tensor, in its own library
// (tunefleet_safetensors_torch) so the reader and writer build without
// libtorch. No c10::Error escapes: every failure is a Status naming the
// tensor.

#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/safetensors/safetensors_format.h"
#include "trainer/safetensors/safetensors_reader.h"
#include "trainer/safetensors/safetensors_writer.h"

namespace tunefleet {

// The torch dtype for a safetensors dtype. U16/U32/U64 have no torch dtype
// in libtorch 1.13: UNIMPLEMENTED.
absl::StatusOr<torch::ScalarType> TorchDType(SafetensorsDType dtype);
// The inverse; INVALID_ARGUMENT for torch dtypes the format cannot hold
// (complex, quantized, ...).
absl::StatusOr<SafetensorsDType> SafetensorsDTypeOf(torch::ScalarType dtype);

// What the caller expects of a tensor; unset fields are not checked.
struct TensorExpectation {
  std::optional<torch::ScalarType> dtype;
  std::optional<std::vector<int64_t>> shape;
};

// A CPU tensor holding a COPY of the view's bytes. We copy rather than
// from_blob over the mapping because the mapping is read-only (an in-place
// op on a from_blob tensor would SIGSEGV), its bytes may be misaligned for
// the dtype, and a copy cannot outlive its file by accident; weights are
// loaded one tensor at a time, so the copy costs one tensor's memory.
// A mismatch with `expect` is INVALID_ARGUMENT naming the file, the tensor,
// and both dtypes or shapes. BOOL bytes other than 0/1 are rejected.
absl::StatusOr<torch::Tensor> ToTorch(const TensorView& view, const TensorExpectation& expect = {});

// Named torch tensors as writer input. Each tensor is detached, moved to
// the CPU and made contiguous, sharing storage when it already is all
// three; this object keeps those tensors alive for the TensorToWrite
// pointers, so keep it (and leave the tensors unmodified) until written.
class TorchTensorsToWrite {
 public:
  // INVALID_ARGUMENT naming the tensor for an undefined tensor or a dtype
  // the format cannot hold.
  absl::Status Add(const std::string& name, const torch::Tensor& tensor);

  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  std::vector<torch::Tensor> kept_;
  std::vector<TensorToWrite> tensors_;
};

// Convenience: Add each, then WriteSafetensors (atomic).
absl::Status WriteTorchSafetensors(const std::string& path,
                                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                   const std::map<std::string, std::string>& metadata = {});

}  // namespace tunefleet
