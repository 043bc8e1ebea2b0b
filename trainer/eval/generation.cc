#include "trainer/eval/generation.h"

#include <algorithm>

namespace tunefleet {

std::vector<std::vector<int32_t>> GreedyGenerateBatch(CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                                                      int max_new_tokens, const std::vector<int32_t>& stop_ids) {
  const auto batch = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int32_t>> generated(prompts.size());
  if (batch == 0) return generated;
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const torch::Device device = model.lm_head_weight().device();

  // Prompts are left-padded to one length P so every row's next token is in
  // the last column; `start[i]` is where row i's prompt begins. A key is
  // visible when it is no pad and not in the future; a pad query sees only
  // itself (its output is never used, but a row with no visible key would be
  // NaN).
  int64_t width = 0;
  for (const auto& p : prompts) width = std::max<int64_t>(width, static_cast<int64_t>(p.size()));
  std::vector<int64_t> ids(static_cast<size_t>(batch * width), 0), positions(ids.size(), 0), start(prompts.size());
  for (int64_t i = 0; i < batch; ++i) {
    const auto& p = prompts[static_cast<size_t>(i)];
    start[static_cast<size_t>(i)] = width - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) {
      const auto col = start[static_cast<size_t>(i)] + static_cast<int64_t>(j);
      ids[static_cast<size_t>(i * width + col)] = p[j];
      positions[static_cast<size_t>(i * width + col)] = static_cast<int64_t>(j);
    }
  }
  const auto bool_options = torch::TensorOptions().dtype(torch::kBool);
  const torch::Tensor starts = torch::tensor(start, torch::kInt64).view({batch, 1, 1, 1});
  torch::Tensor cols = torch::arange(width, torch::kInt64);
  torch::Tensor allowed = cols.view({1, 1, 1, width}).le(cols.view({1, 1, width, 1}))
                              .logical_and(cols.view({1, 1, 1, width}).ge(starts))
                              .logical_or(torch::eye(width, bool_options).view({1, 1, width, width}));

  std::vector<LayerKvCache> cache;
  torch::Tensor input = torch::tensor(ids, torch::kInt64).view({batch, width});
  torch::Tensor pos = torch::tensor(positions, torch::kInt64).view({batch, width});
  torch::Tensor next_pos = torch::tensor(std::vector<int64_t>(prompts.size(), 0), torch::kInt64);
  for (int64_t i = 0; i < batch; ++i) next_pos[i] = static_cast<int64_t>(prompts[static_cast<size_t>(i)].size());
  std::vector<bool> done(prompts.size(), false);
  int64_t length = width;
  for (int step = 0; step < max_new_tokens; ++step) {
    torch::Tensor hidden = model.ForwardHiddenCached(input.to(device), pos.to(device), cache, allowed);
    torch::Tensor next = model.Logits(hidden.select(1, hidden.size(1) - 1)).argmax(-1).to(torch::kCPU);
    const auto* next_ids = next.data_ptr<int64_t>();
    bool all_done = true;
    for (int64_t i = 0; i < batch; ++i) {
      if (done[static_cast<size_t>(i)]) continue;
      const auto token = static_cast<int32_t>(next_ids[i]);
      if (std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end()) {
        done[static_cast<size_t>(i)] = true;
        continue;
      }
      generated[static_cast<size_t>(i)].push_back(token);
      all_done = false;
    }
    if (all_done) break;
    // One new column: each row sees its own non-pad keys and the new token.
    input = next.view({batch, 1});
    pos = next_pos.view({batch, 1}).clone();
    next_pos += 1;
    ++length;
    torch::Tensor key_cols = torch::arange(length, torch::kInt64).view({1, 1, 1, length});
    allowed = key_cols.ge(starts);
  }
  if (was_training) model.train();
  return generated;
}

std::vector<int32_t> GreedyGenerate(CausalLM& model, const std::vector<int32_t>& prompt, int max_new_tokens,
                                    const std::vector<int32_t>& stop_ids) {
  return GreedyGenerateBatch(model, {prompt}, max_new_tokens, stop_ids).front();
}

}  // namespace tunefleet
