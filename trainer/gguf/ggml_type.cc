#include "trainer/gguf/ggml_type.h"

#include "absl/strings/str_cat.h"

namespace tunefleet {

std::optional<GgmlBlockLayout> BlockLayoutOf(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32:
      return GgmlBlockLayout{1, 4};
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return GgmlBlockLayout{1, 2};
    case GgmlType::kQ4_0:
      return GgmlBlockLayout{32, 18};  // f16 scale, 16 bytes of nibbles
    case GgmlType::kQ4_1:
      return GgmlBlockLayout{32, 20};  // f16 scale, f16 minimum, 16 bytes of nibbles
    case GgmlType::kQ5_0:
      return GgmlBlockLayout{32, 22};  // f16 scale, 4 bytes of fifth bits, 16 bytes of nibbles
    case GgmlType::kQ5_1:
      return GgmlBlockLayout{32, 24};  // f16 scale, f16 minimum, fifth bits, nibbles
    case GgmlType::kQ8_0:
      return GgmlBlockLayout{32, 34};  // f16 scale, 32 int8
  }
  return std::nullopt;
}

std::string GgmlTypeName(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kBF16:
      return "BF16";
    case GgmlType::kQ4_0:
      return "Q4_0";
    case GgmlType::kQ4_1:
      return "Q4_1";
    case GgmlType::kQ5_0:
      return "Q5_0";
    case GgmlType::kQ5_1:
      return "Q5_1";
    case GgmlType::kQ8_0:
      return "Q8_0";
  }
  // The k-quants and the rest, named as ggml does, for the error message.
  static const char* const kOthers[] = {nullptr, nullptr, nullptr, nullptr, "Q4_2", "Q4_3", nullptr, nullptr, nullptr,
                                        "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"};
  if (type < sizeof(kOthers) / sizeof(kOthers[0]) && kOthers[type] != nullptr) return kOthers[type];
  return absl::StrCat("ggml type ", type);
}

}  // namespace tunefleet
