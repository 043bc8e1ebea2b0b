#pragma once
// The loss of the expected answer under a model (teacher forcing): for each
// example, the mean negative log-likelihood per token of the completion and
// the reply's end token, given the prompt in the same chat rendering that
// generation uses. Lower is better; comparable between models that share a
// tokenizer.

#include <vector>

#include "absl/status/statusor.h"
#include "trainer/eval/exact_match.h"
#include "trainer/model/llama_model.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {

absl::StatusOr<std::vector<double>> CompletionLosses(CausalLM& model, const Tokenizer& tokenizer,
                                                     const GenerationFormat& format,
                                                     const std::vector<PromptAndAnswer>& examples);

}  // namespace tunefleet
