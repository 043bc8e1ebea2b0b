#include "trainer/gguf/gguf_dequant.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// 32 four-bit values of a block: the low nibbles are elements 0..15, the
// high nibbles 16..31 (ggml's layout).
void Nibbles(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0x0F;
    q[j + 16] = qs[j] >> 4;
  }
}

}  // namespace

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000 | (mantissa << 13);  // inf, nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise into a float's exponent range.
    uint32_t e = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float BFloat16ToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

absl::Status DequantizeToFloat(GgmlType type, absl::Span<const uint8_t> data, int64_t elements, float* out) {
  const std::optional<GgmlBlockLayout> layout = BlockLayoutOf(static_cast<uint32_t>(type));
  if (!layout) return absl::InvalidArgumentError(absl::StrCat("cannot decode ", GgmlTypeName(static_cast<uint32_t>(type))));
  if (elements < 0 || elements % layout->elements != 0 ||
      static_cast<uint64_t>(elements / layout->elements * layout->bytes) != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(GgmlTypeName(static_cast<uint32_t>(type)), ": ", data.size(),
                                                   " bytes do not hold ", elements, " values"));
  }
  const uint8_t* p = data.data();
  const int64_t blocks = elements / layout->elements;
  uint8_t q[32];
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(out, p, data.size());
      return absl::OkStatus();
    case GgmlType::kF16:
      for (int64_t i = 0; i < elements; ++i) out[i] = HalfToFloat(LoadU16(p + 2 * i));
      return absl::OkStatus();
    case GgmlType::kBF16:
      for (int64_t i = 0; i < elements; ++i) out[i] = BFloat16ToFloat(LoadU16(p + 2 * i));
      return absl::OkStatus();
    case GgmlType::kQ8_0:
      for (int64_t b = 0; b < blocks; ++b, p += 34, out += 32) {
        const float d = HalfToFloat(LoadU16(p));
        for (int j = 0; j < 32; ++j) out[j] = d * static_cast<float>(static_cast<int8_t>(p[2 + j]));
      }
      return absl::OkStatus();
    case GgmlType::kQ4_0:
      for (int64_t b = 0; b < blocks; ++b, p += 18, out += 32) {
        const float d = HalfToFloat(LoadU16(p));
        Nibbles(p + 2, q);
        for (int j = 0; j < 32; ++j) out[j] = d * static_cast<float>(static_cast<int>(q[j]) - 8);
      }
      return absl::OkStatus();
    case GgmlType::kQ4_1:
      for (int64_t b = 0; b < blocks; ++b, p += 20, out += 32) {
        const float d = HalfToFloat(LoadU16(p));
        const float m = HalfToFloat(LoadU16(p + 2));
        Nibbles(p + 4, q);
        for (int j = 0; j < 32; ++j) out[j] = d * static_cast<float>(q[j]) + m;
      }
      return absl::OkStatus();
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1: {
      const bool has_min = type == GgmlType::kQ5_1;
      const int64_t stride = has_min ? 24 : 22;
      for (int64_t b = 0; b < blocks; ++b, p += stride, out += 32) {
        const float d = HalfToFloat(LoadU16(p));
        const float m = has_min ? HalfToFloat(LoadU16(p + 2)) : 0.0f;
        const uint8_t* qh_bytes = p + (has_min ? 4 : 2);
        uint32_t qh;
        std::memcpy(&qh, qh_bytes, 4);
        Nibbles(qh_bytes + 4, q);
        for (int j = 0; j < 32; ++j) {
          const int v = q[j] | static_cast<int>(((qh >> j) & 1u) << 4);
          out[j] = has_min ? d * static_cast<float>(v) + m : d * static_cast<float>(v - 16);
        }
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unreachable ggml type");
}

}  // namespace tunefleet
