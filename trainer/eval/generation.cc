#include "trainer/eval/generation.h"

#include <algorithm>

namespace tunefleet {

std::vector<int32_t> GreedyGenerate(CausalLM& model, const std::vector<int32_t>& prompt, int max_new_tokens,
                                    const std::vector<int32_t>& stop_ids) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const torch::Device device = model.lm_head_weight().device();
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  std::vector<int32_t> generated;
  for (int i = 0; i < max_new_tokens; ++i) {
    const auto n = static_cast<int64_t>(ids.size());
    torch::Tensor input = torch::tensor(ids, torch::kInt64).view({1, n}).to(device);
    torch::Tensor positions = torch::arange(n, torch::kInt64).view({1, n}).to(device);
    torch::Tensor hidden = model.ForwardHidden(input, positions);
    torch::Tensor logits = model.Logits(hidden.select(1, n - 1));
    const auto next = static_cast<int32_t>(logits.argmax(-1).item<int64_t>());
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) break;
    generated.push_back(next);
    ids.push_back(next);
  }
  if (was_training) model.train();
  return generated;
}

}  // namespace tunefleet
