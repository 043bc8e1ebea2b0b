#pragma once
// Greedy decoding with a KV cache, for evaluating a model on prompts.

#include <cstdint>
#include <vector>

#include "trainer/model/llama_model.h"

namespace tunefleet {

// Appends up to `max_new_tokens` argmax tokens to `prompt`, stopping after any
// id in `stop_ids` (not included in the result). Returns the new tokens only.
// The same for several prompts at once, left-padded into one batch (one
// weight read per step for the whole batch): row i's new tokens.
std::vector<std::vector<int32_t>> GreedyGenerateBatch(CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                                                      int max_new_tokens, const std::vector<int32_t>& stop_ids);

std::vector<int32_t> GreedyGenerate(CausalLM& model, const std::vector<int32_t>& prompt, int max_new_tokens,
                                    const std::vector<int32_t>& stop_ids);

}  // namespace tunefleet
