#pragma once
// The Llama-family causal LM (llama, qwen2, qwen3, mistral), as torch modules whose
// parameter names are Hugging Face's: `model.embed_tokens.weight`,
// `model.layers.N.self_attn.q_proj.weight`, `model.norm.weight`,
// `lm_head.weight` (absent when tied). It knows nothing of distribution,
// checkpoints or optimizers; weights come from weight_loading.h or model_init.h.

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model/decoder_layer.h"
#include "trainer/model/embedding.h"
#include "trainer/model/lora_linear.h"
#include "trainer/model/model_config.h"
#include "trainer/model/rms_norm.h"
#include "trainer/model/rotary_embedding.h"

namespace tunefleet {

// HF's LlamaModel: the embedding, the decoder layers and the final norm.
class DecoderModel : public torch::nn::Module {
 public:
  DecoderModel(const ModelConfig& config, const torch::TensorOptions& options);
  // `caches`: one per layer for incremental decoding, or null.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed, std::vector<LayerKvCache>* caches = nullptr);

  std::shared_ptr<Embedding> embed_tokens;
  std::vector<std::shared_ptr<DecoderLayer>> layers;  // registered as "layers.0", "layers.1", ...
  std::shared_ptr<RMSNorm> norm;
};

class CausalLM : public torch::nn::Module {
 public:
  // Parameters are allocated uninitialised with `options` (dtype, device);
  // use CreateModel / CreateRandomModel, which validate the config first.
  CausalLM(const ModelConfig& config, const torch::TensorOptions& options);

  // input_ids, position_ids [B, T] int64; segment_ids [B, T] int64 or
  // undefined. With segment ids (packing) a token attends to the earlier
  // tokens of its own segment only, and the caller restarts positions at each
  // segment. Returns fp32 logits [B, T, vocab]. Malformed inputs throw
  // c10::Error: they are programming errors, like any torch op's.
  torch::Tensor Forward(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                        const torch::Tensor& segment_ids = {});
  // The final normed hidden states [B, T, hidden] in the model dtype, for a
  // loss that projects to the vocabulary in chunks.
  torch::Tensor ForwardHidden(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                              const torch::Tensor& segment_ids = {});
  // Incremental decoding: input_ids [B, T] are the tokens after those in
  // `cache` (empty at first), at positions position_ids; they are appended to
  // the cache. Returns their final normed hidden states [B, T, hidden].
  // `allowed` (bool [B, 1, T, cached + T], true where a token may see a key)
  // replaces the causal mask, e.g. to hide left padding; undefined: causal.
  torch::Tensor ForwardHiddenCached(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                    std::vector<LayerKvCache>& cache, const torch::Tensor& allowed = {});
  // hidden [..., hidden] -> fp32 logits [..., vocab].
  torch::Tensor Logits(const torch::Tensor& hidden);
  // ComputeLoss(Logits(hidden), labels).sum, labels [B, T]: through the fused
  // chunked head and loss (LinearCrossEntropySum) where it applies, a plain
  // head (no adapter, bias or NF4 base) on the CPU with at least
  // kLinearCrossEntropyMinLogits logits, so the [B, T, vocab]
  // logits are never held; elsewhere by the logits. `expected_grad`: the
  // gradient the caller backpropagates into the sum (see LinearCrossEntropySum).
  torch::Tensor LossSum(const torch::Tensor& hidden, const torch::Tensor& labels, double expected_grad = 1.0);

  // lm_head's weight, or the embedding's (the same tensor) when tied.
  torch::Tensor lm_head_weight() const;
  const ModelConfig& config() const { return config_; }

  std::shared_ptr<DecoderModel> model;
  std::shared_ptr<LoraLinear> lm_head;  // null when tie_word_embeddings

 private:
  ModelConfig config_;
  RotaryEmbedding rotary_;
};

// Validates `config` and allocates a model (uninitialised) with `options`:
// load weights next. Errors (an invalid config, out of memory) as a Status.
absl::StatusOr<std::shared_ptr<CausalLM>> CreateModel(const ModelConfig& config,
                                                      const torch::TensorOptions& options = torch::kFloat32);

// The attention mask for packed rows: bool [B, 1, T, T], true where query t
// may attend key s (s <= t and the same segment).
torch::Tensor PackedCausalMask(const torch::Tensor& segment_ids);

}  // namespace tunefleet
