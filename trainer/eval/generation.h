#pragma once
// Greedy decoding, for evaluating a model on prompts. No KV cache: the demo
// and the tests generate a few tokens from short prompts, where recomputing
// the prefix costs less than the bookkeeping would save.

#include <cstdint>
#include <vector>

#include "trainer/model/llama_model.h"

namespace tunefleet {

// Appends up to `max_new_tokens` argmax tokens to `prompt`, stopping after any
// id in `stop_ids` (not included in the result). Returns the new tokens only.
std::vector<int32_t> GreedyGenerate(CausalLM& model, const std::vector<int32_t>& prompt, int max_new_tokens,
                                    const std::vector<int32_t>& stop_ids);

}  // namespace tunefleet
