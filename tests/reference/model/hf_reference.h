#pragma once
// The C++ half of the equality tests against transformers/PEFT: runs
// tests/reference/model/hf_reference.py with the virtualenv's Python, reads
// what it wrote (reference.safetensors, reference.json) and compares a
// tunefleet model with it. Nothing here is tied to the tiny models: any
// CausalLM, however it was loaded (a Hugging Face directory, a GGUF file),
// can be compared with a `logits` reference of the same weights.

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer/model/llama_model.h"

namespace tunefleet::testing {

// Runs `python hf_reference.py <args...>`; the error carries its output.
absl::Status RunHfReference(const std::vector<std::string>& args);

// A reference directory as the script writes it.
struct HfReference {
  std::map<std::string, torch::Tensor> tensors;
  nlohmann::json json;
  const torch::Tensor& at(const std::string& name) const;  // throws std::out_of_range naming the tensor
};
absl::StatusOr<HfReference> ReadHfReference(const std::string& dir);

// max |diff| over the compared positions, and the scale it is judged by.
struct LogitsComparison {
  double max_abs_diff = 0;
  double max_abs_logit = 0;
  double relative() const { return max_abs_logit > 0 ? max_abs_diff / max_abs_logit : max_abs_diff; }
};

// Runs `model` on the inputs of a `logits` reference (padding as segment 0,
// packed documents as segments 1, 2, ... with positions restarting) and
// compares the logits at every non-padding position.
LogitsComparison CompareLogits(CausalLM& model, const HfReference& reference);

// The whole round for any model: transformers' logits for the weights in
// `hf_dir` (a Hugging Face directory; with `gguf_file`, that GGUF file in it,
// read by transformers), written under `work_dir`, against `model`'s.
// Usage: EXPECT_LE(CompareWithTransformers(*model, dir, tmp)->relative(), 1e-4).
absl::StatusOr<LogitsComparison> CompareWithTransformers(CausalLM& model, const std::string& hf_dir,
                                                         const std::string& work_dir,
                                                         const std::string& gguf_file = "");

// max |a - b| in fp64.
double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace tunefleet::testing
