#include "trainer/safetensors/safetensors_torch.h"

#include <cstring>
#include <exception>

#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

absl::Status TensorError(const TensorView& view, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(view.file, ": tensor '", view.name, "': ", what));
}

std::string TorchDTypeName(torch::ScalarType dtype) { return c10::toString(dtype); }

absl::StatusOr<torch::Tensor> CopyToTorch(const TensorView& view, const TensorExpectation& expect) {
  absl::StatusOr<torch::ScalarType> dtype = TorchDType(view.dtype);
  if (!dtype.ok()) {
    return absl::Status(dtype.status().code(),
                        absl::StrCat(view.file, ": tensor '", view.name, "': ", dtype.status().message()));
  }
  if (expect.dtype && *expect.dtype != *dtype) {
    return TensorError(view,
                       absl::StrCat("expected dtype ", TorchDTypeName(*expect.dtype), ", the file holds ",
                                    DTypeName(view.dtype), " (", TorchDTypeName(*dtype), ")"));
  }
  if (expect.shape && *expect.shape != view.shape) {
    return TensorError(view, absl::StrCat("expected shape ", ShapeString(*expect.shape), ", the file holds ",
                                          ShapeString(view.shape)));
  }
  if (view.dtype == SafetensorsDType::kBool) {
    for (size_t i = 0; i < view.size_bytes; ++i) {
      if (view.data[i] > 1) {
        return TensorError(view, absl::StrCat("BOOL byte ", i, " is ", int{view.data[i]}, ", not 0 or 1"));
      }
    }
  }
  torch::Tensor tensor = torch::empty(view.shape, torch::TensorOptions().dtype(*dtype));
  if (view.size_bytes > 0) std::memcpy(tensor.data_ptr(), view.data, view.size_bytes);
  return tensor;
}

}  // namespace

absl::StatusOr<torch::ScalarType> TorchDType(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF64:
      return torch::kFloat64;
    case SafetensorsDType::kF32:
      return torch::kFloat32;
    case SafetensorsDType::kF16:
      return torch::kFloat16;
    case SafetensorsDType::kBF16:
      return torch::kBFloat16;
    case SafetensorsDType::kI64:
      return torch::kInt64;
    case SafetensorsDType::kI32:
      return torch::kInt32;
    case SafetensorsDType::kI16:
      return torch::kInt16;
    case SafetensorsDType::kI8:
      return torch::kInt8;
    case SafetensorsDType::kU8:
      return torch::kUInt8;
    case SafetensorsDType::kBool:
      return torch::kBool;
    case SafetensorsDType::kU16:
    case SafetensorsDType::kU32:
    case SafetensorsDType::kU64:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("dtype ", DTypeName(dtype), " has no torch equivalent in this libtorch"));
}

absl::StatusOr<SafetensorsDType> SafetensorsDTypeOf(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat64:
      return SafetensorsDType::kF64;
    case torch::kFloat32:
      return SafetensorsDType::kF32;
    case torch::kFloat16:
      return SafetensorsDType::kF16;
    case torch::kBFloat16:
      return SafetensorsDType::kBF16;
    case torch::kInt64:
      return SafetensorsDType::kI64;
    case torch::kInt32:
      return SafetensorsDType::kI32;
    case torch::kInt16:
      return SafetensorsDType::kI16;
    case torch::kInt8:
      return SafetensorsDType::kI8;
    case torch::kUInt8:
      return SafetensorsDType::kU8;
    case torch::kBool:
      return SafetensorsDType::kBool;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("torch dtype ", TorchDTypeName(dtype), " cannot be stored in safetensors"));
}

absl::StatusOr<torch::Tensor> ToTorch(const TensorView& view, const TensorExpectation& expect) {
  try {
    return CopyToTorch(view, expect);
  } catch (const std::exception& e) {  // c10::Error derives from std::exception
    return absl::InternalError(absl::StrCat(view.file, ": tensor '", view.name, "': ", e.what()));
  }
}

absl::Status TorchTensorsToWrite::Add(const std::string& name, const torch::Tensor& tensor) {
  try {
    if (!tensor.defined()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': undefined tensor"));
    }
    absl::StatusOr<SafetensorsDType> dtype = SafetensorsDTypeOf(tensor.scalar_type());
    if (!dtype.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", dtype.status().message()));
    }
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    TensorToWrite out;
    out.name = name;
    out.dtype = *dtype;
    out.shape = cpu.sizes().vec();
    out.size_bytes = static_cast<size_t>(cpu.numel()) * cpu.element_size();
    out.data = out.size_bytes > 0 ? cpu.data_ptr() : nullptr;
    // The storage is heap-allocated, so moving the handle keeps `data` valid.
    kept_.push_back(std::move(cpu));
    tensors_.push_back(std::move(out));
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("tensor '", name, "': ", e.what()));
  }
}

absl::Status WriteTorchSafetensors(const std::string& path,
                                   const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                   const std::map<std::string, std::string>& metadata) {
  TorchTensorsToWrite input;
  for (const auto& [name, tensor] : tensors) {
    if (absl::Status s = input.Add(name, tensor); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    }
  }
  return WriteSafetensors(path, input.tensors(), metadata);
}

}  // namespace tunefleet
