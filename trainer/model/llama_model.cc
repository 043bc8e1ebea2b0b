#include "trainer/model/llama_model.h"

#include <exception>
#include <string>

#include "absl/strings/str_cat.h"
#include "trainer/model/dense_linear.h"
#include "trainer/model/linear_cross_entropy.h"
#include "trainer/model/loss.h"

namespace tunefleet {

DecoderModel::DecoderModel(const ModelConfig& config, const torch::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens",
                                 std::make_shared<Embedding>(config.vocab_size, config.hidden_size, options));
  // A ModuleList names its children "0", "1", ..., which gives HF's "layers.N".
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers.push_back(std::make_shared<DecoderLayer>(config, options));
    list->push_back(layers.back());
  }
  norm = register_module("norm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps, options));
}

torch::Tensor DecoderModel::forward(const torch::Tensor& input_ids, const torch::Tensor& cos,
                                    const torch::Tensor& sin, const torch::Tensor& allowed,
                                    std::vector<LayerKvCache>* caches) {
  torch::Tensor h = embed_tokens->forward(input_ids);
  if (caches != nullptr) caches->resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    h = layers[i]->forward(h, cos, sin, allowed, caches != nullptr ? &(*caches)[i] : nullptr);
  }
  return norm->forward(h);
}

CausalLM::CausalLM(const ModelConfig& config, const torch::TensorOptions& options)
    : config_(config), rotary_(config) {
  model = register_module("model", std::make_shared<DecoderModel>(config, options));
  if (!config.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", std::make_shared<LoraLinear>(config.hidden_size, config.vocab_size, false, options));
  }
}

torch::Tensor PackedCausalMask(const torch::Tensor& segment_ids) {
  const int64_t t = segment_ids.size(1);
  torch::Tensor causal =
      torch::ones({t, t}, torch::TensorOptions().dtype(torch::kBool).device(segment_ids.device())).tril();
  torch::Tensor same_segment = segment_ids.unsqueeze(2).eq(segment_ids.unsqueeze(1));  // [B, T, T]
  return same_segment.logical_and(causal).unsqueeze(1);
}

torch::Tensor CausalLM::ForwardHidden(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                      const torch::Tensor& segment_ids) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == torch::kInt64,
              "input_ids must be int64 [B, T], got ", input_ids.sizes(), " ", input_ids.scalar_type());
  TORCH_CHECK(position_ids.sizes() == input_ids.sizes() && position_ids.scalar_type() == torch::kInt64,
              "position_ids must be int64 of input_ids' shape ", input_ids.sizes(), ", got ",
              position_ids.sizes());
  TORCH_CHECK(!segment_ids.defined() || segment_ids.sizes() == input_ids.sizes(),
              "segment_ids must have input_ids' shape ", input_ids.sizes());
  const torch::Tensor& embed = model->embed_tokens->weight;
  auto [cos, sin] = rotary_.CosSin(position_ids.to(embed.device()), embed.scalar_type());
  torch::Tensor allowed =
      segment_ids.defined() ? PackedCausalMask(segment_ids.to(embed.device())) : torch::Tensor();
  return model->forward(input_ids.to(embed.device()), cos, sin, allowed);
}

torch::Tensor CausalLM::ForwardHiddenCached(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                            std::vector<LayerKvCache>& cache, const torch::Tensor& allowed) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == torch::kInt64 &&
                  position_ids.sizes() == input_ids.sizes(),
              "input_ids and position_ids must be int64 [B, T]");
  const torch::Tensor& embed = model->embed_tokens->weight;
  auto [cos, sin] = rotary_.CosSin(position_ids.to(embed.device()), embed.scalar_type());
  return model->forward(input_ids.to(embed.device()), cos, sin,
                        allowed.defined() ? allowed.to(embed.device()) : allowed, &cache);
}

torch::Tensor CausalLM::Logits(const torch::Tensor& hidden) {
  torch::Tensor logits =
      lm_head ? lm_head->forward(hidden) : DenseLinear(hidden, lm_head_weight());
  return logits.to(torch::kFloat32);
}

torch::Tensor CausalLM::LossSum(const torch::Tensor& hidden, const torch::Tensor& labels, double expected_grad) {
  const bool plain_head = !lm_head || (!lm_head->has_adapter() && !lm_head->bias.defined() && !lm_head->nf4_weight());
  if (plain_head && hidden.dim() == 3 && labels.dim() == 2 && labels.sizes() == hidden.sizes().slice(0, 2)) {
    const torch::Tensor weight = lm_head_weight();
    if (FusesLinearCrossEntropy(hidden, weight) &&
        labels.numel() * weight.size(0) >= kLinearCrossEntropyMinLogits) {
      return LinearCrossEntropySum(hidden.reshape({-1, hidden.size(2)}), weight, labels.reshape({-1}), expected_grad);
    }
  }
  return ComputeLoss(Logits(hidden), labels).sum;
}

torch::Tensor CausalLM::Forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                const torch::Tensor& segment_ids) {
  return Logits(ForwardHidden(input_ids, position_ids, segment_ids));
}

torch::Tensor CausalLM::lm_head_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

absl::StatusOr<std::shared_ptr<CausalLM>> CreateModel(const ModelConfig& config,
                                                      const torch::TensorOptions& options) {
  absl::Status valid = ValidateModelConfig(config, "model config");
  if (!valid.ok()) return valid;
  try {
    return std::make_shared<CausalLM>(config, options.requires_grad(false));
  } catch (const std::exception& e) {  // c10::Error included: e.g. out of device memory
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate the model: ", e.what()));
  }
}

}  // namespace tunefleet
