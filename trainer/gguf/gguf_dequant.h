#pragma once
// Decoding GGUF tensor data to float32, exactly as gguf-py's
// `gguf.quants.dequantize` (what transformers loads GGUF files with) does:
// the scale and minimum widen from f16 to f32 and each value is
// `d * q` or `d * q + m` rounded once per operation, never fused (this file
// is compiled with -ffp-contract=off), so the result is bit for bit the same.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "trainer/gguf/ggml_type.h"

namespace tunefleet {

// Decodes `elements` values of `type` from `data` (which must hold exactly
// their bytes) into `out`.
absl::Status DequantizeToFloat(GgmlType type, absl::Span<const uint8_t> data, int64_t elements, float* out);

// IEEE half and bfloat16 bit patterns to float (exact).
float HalfToFloat(uint16_t h);
float BFloat16ToFloat(uint16_t b);

}  // namespace tunefleet
