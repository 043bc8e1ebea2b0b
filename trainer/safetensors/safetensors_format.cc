#include "trainer/safetensors/safetensors_format.h"

namespace tunefleet {

size_t DTypeSize(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF64:
    case SafetensorsDType::kI64:
    case SafetensorsDType::kU64:
      return 8;
    case SafetensorsDType::kF32:
    case SafetensorsDType::kI32:
    case SafetensorsDType::kU32:
      return 4;
    case SafetensorsDType::kF16:
    case SafetensorsDType::kBF16:
    case SafetensorsDType::kI16:
    case SafetensorsDType::kU16:
      return 2;
    case SafetensorsDType::kI8:
    case SafetensorsDType::kU8:
    case SafetensorsDType::kBool:
      return 1;
  }
  return 0;  // unreachable: every enumerator is handled above
}

absl::string_view DTypeName(SafetensorsDType dtype) {
  switch (dtype) {
    case SafetensorsDType::kF64:
      return "F64";
    case SafetensorsDType::kF32:
      return "F32";
    case SafetensorsDType::kF16:
      return "F16";
    case SafetensorsDType::kBF16:
      return "BF16";
    case SafetensorsDType::kI64:
      return "I64";
    case SafetensorsDType::kI32:
      return "I32";
    case SafetensorsDType::kI16:
      return "I16";
    case SafetensorsDType::kI8:
      return "I8";
    case SafetensorsDType::kU64:
      return "U64";
    case SafetensorsDType::kU32:
      return "U32";
    case SafetensorsDType::kU16:
      return "U16";
    case SafetensorsDType::kU8:
      return "U8";
    case SafetensorsDType::kBool:
      return "BOOL";
  }
  return "?";
}

std::optional<SafetensorsDType> ParseDType(absl::string_view name) {
  for (SafetensorsDType dtype : kAllSafetensorsDTypes) {
    if (DTypeName(dtype) == name) return dtype;
  }
  return std::nullopt;
}

}  // namespace tunefleet
