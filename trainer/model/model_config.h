#pragma once
// The architecture of a Llama-family causal LM (llama, qwen2, qwen3, mistral;
// SmolLM is llama), read from and written back to a Hugging Face config.json. Options
// that would change the computation and that the model does not implement are
// rejected here, by name, so an unsupported checkpoint fails at load and never
// trains silently wrong.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tunefleet {

// Llama 3's frequency-dependent RoPE scaling (rope_type "llama3").
struct RopeScaling {
  std::string rope_type = "llama3";
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type = "llama";  // llama | qwen2 | qwen3 | mistral
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // llama and qwen3: bias on q, k, v and o
  std::string hidden_act = "silu";
  // Recorded to write back; the model never applies a window (checked to be
  // absent, disabled or not smaller than max_position_embeddings).
  std::optional<int64_t> sliding_window;
  bool use_sliding_window = false;  // qwen2's and qwen3's switch
  std::string torch_dtype;          // as written in the file, e.g. "bfloat16"
  double initializer_range = 0.02;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::vector<int64_t> eos_token_ids;  // config.json holds one id or a list

  // Which projections carry a bias: qwen2 has q/k/v bias always and no o bias;
  // llama and qwen3 have all four or none (attention_bias); mistral none.
  bool qkv_bias() const;
  bool o_bias() const;
  // Qwen3 RMS-normalises each query and key head (over head_dim) before RoPE.
  bool qk_norm() const { return model_type == "qwen3"; }

  // A config.json that transformers loads (with "architectures" set).
  std::string ToJson() const;
};

// Upper bounds ValidateModelConfig applies, so a hostile or corrupt
// config.json (or GGUF header) is refused before the model allocates
// anything from its numbers. Each is several times the largest released
// Llama-family model (Llama 3.1 405B: 126 layers, hidden 16384, 128 heads,
// intermediate 53248; the largest vocabularies ~262k). docs/security.md.
inline constexpr int64_t kMaxModelLayers = 1024;
inline constexpr int64_t kMaxModelHiddenSize = 65536;
inline constexpr int64_t kMaxModelIntermediateSize = 262144;
inline constexpr int64_t kMaxModelAttentionHeads = 1024;
inline constexpr int64_t kMaxModelHeadDim = 1024;
inline constexpr int64_t kMaxModelVocabSize = int64_t{1} << 22;
inline constexpr int64_t kMaxModelPositionEmbeddings = int64_t{1} << 24;
// Parameters implied by the numbers above (embeddings, attention, MLP):
// 2^40 is ~1.1 trillion, 4 TiB in fp32, beyond any machine this runs on.
inline constexpr int64_t kMaxModelParameters = int64_t{1} << 40;

// The parameter count a config implies (weights only, biases and norms
// included), for the bound above and for messages. Needs a config whose
// sizes are each within the bounds (no overflow then).
int64_t ModelParameterCount(const ModelConfig& config);

// Parses config.json text; `source` (a path) is named in every error.
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source);
// Reads and parses a config.json file.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path);
// The consistency checks ParseModelConfig applies, for configs built in code.
absl::Status ValidateModelConfig(const ModelConfig& config, const std::string& source);

}  // namespace tunefleet
