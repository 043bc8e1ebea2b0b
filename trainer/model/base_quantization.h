#pragma once
// QLoRA's 4-bit base: the decoder's seven projections (q, k, v, o, gate, up,
// down) held as NF4 whether LoRA targets them or not; embeddings, norms and
// lm_head stay as they are, as in the QLoRA paper. Quantisation is a pure
// function of the loaded weights, so a resumed run re-reads the base and
// gets the same bytes: checkpoints never hold the quantised base.

#include <torch/torch.h>

#include <cstdint>

#include "absl/status/status.h"
#include "trainer/model/llama_model.h"

namespace tunefleet {

// How a LoRA checkpoint records its base (TrainerState::extra): "none" or
// "nf4", so resume and export rebuild the base the adapters trained over.
inline constexpr char kBaseQuantizationKey[] = "base_quantization";
inline constexpr char kBaseNone[] = "none";
inline constexpr char kBaseNf4[] = "nf4";

// Quantises the projections' weights (from whatever dtype they have, in
// float32) and places them on `device`. FAILED_PRECONDITION when a
// projection's base weight has requires_grad (only a frozen base, i.e. after
// ApplyLora, may be quantised).
absl::Status QuantizeBaseToNf4(CausalLM& model, const torch::Device& device);

bool HasNf4Base(const CausalLM& model);

// The frozen base's weights as held in memory: dense frozen parameters
// (embeddings, norms, lm_head, or a projection not quantised) and the NF4
// projections' packed codes plus scales.
struct FrozenBaseBytes {
  int64_t dense = 0;
  int64_t nf4 = 0;
  int64_t nf4_parameters = 0;  // elements the NF4 projections stand for
  int64_t total() const { return dense + nf4; }
};
FrozenBaseBytes CountFrozenBaseBytes(const CausalLM& model);

}  // namespace tunefleet
