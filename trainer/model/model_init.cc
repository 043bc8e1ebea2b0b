#include "trainer/model/model_init.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include <ATen/CPUGeneratorImpl.h>

namespace tunefleet {
namespace {

void FillNormal(torch::Tensor& t, double std, at::Generator& generator) {
  t.copy_(torch::randn(t.sizes(), generator, torch::kFloat32) * std);
}

}  // namespace

void InitRandomWeights(CausalLM& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator generator = at::detail::createCPUGenerator(seed);
  const ModelConfig& config = model.config();
  const double std = config.initializer_range;
  // modules() walks in registration order, the same on every rank.
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<LoraLinear*>(module.get())) {
      FillNormal(linear->weight, std, generator);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = dynamic_cast<Embedding*>(module.get())) {
      FillNormal(embedding->weight, std, generator);
      if (config.pad_token_id && *config.pad_token_id >= 0 && *config.pad_token_id < config.vocab_size) {
        embedding->weight[*config.pad_token_id].zero_();
      }
    } else if (auto* norm = dynamic_cast<RMSNorm*>(module.get())) {
      norm->weight.fill_(1.0);
    }
  }
}

absl::StatusOr<std::shared_ptr<CausalLM>> CreateRandomModel(const ModelConfig& config, uint64_t seed,
                                                            const torch::TensorOptions& options) {
  absl::StatusOr<std::shared_ptr<CausalLM>> model = CreateModel(config, options);
  if (!model.ok()) return model.status();
  try {
    InitRandomWeights(**model, seed);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("random init failed: ", e.what()));
  }
  return model;
}

}  // namespace tunefleet
