#include "trainer/gguf/gguf_model.h"

#include <torch/torch.h>

#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "trainer/gguf/gguf_dequant.h"
#include "trainer/gguf/gguf_tokenizer.h"
#include "trainer/model/model_weights_check.h"

namespace tunefleet {
namespace {

// llama.cpp's per-layer tensor names and the HF module names they stand for.
const std::map<std::string, std::string>& LayerNames() {
  static const auto* names = new std::map<std::string, std::string>{
      {"attn_norm", "input_layernorm"},   {"ffn_norm", "post_attention_layernorm"},
      {"attn_q", "self_attn.q_proj"},     {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},     {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
      {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  return *names;
}

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"; a name
// with no counterpart is returned unchanged.
std::string HfNameOf(const std::string& gguf_name) {
  if (gguf_name == "token_embd.weight") return "model.embed_tokens.weight";
  if (gguf_name == "output_norm.weight") return "model.norm.weight";
  if (gguf_name == "output.weight") return "lm_head.weight";
  const std::vector<std::string> parts = absl::StrSplit(gguf_name, '.');
  int layer = 0;
  if (parts.size() == 4 && parts[0] == "blk" && absl::SimpleAtoi(parts[1], &layer) && layer >= 0) {
    const auto it = LayerNames().find(parts[2]);
    if (it != LayerNames().end() && (parts[3] == "weight" || parts[3] == "bias")) {
      return absl::StrCat("model.layers.", layer, ".", it->second, ".", parts[3]);
    }
  }
  return gguf_name;
}

// Undoes convert_hf_to_gguf.py's LlamaModel.permute (which interleaves the
// two rotary halves of each head), as transformers' _reverse_permute_weights.
torch::Tensor ReversePermute(const torch::Tensor& w, int64_t heads) {
  std::vector<int64_t> shape = {heads, w.size(0) / heads / 2, 2};
  for (int64_t d = 1; d < w.dim(); ++d) shape.push_back(w.size(d));
  return w.reshape(shape).transpose(1, 2).reshape(w.sizes()).contiguous();
}

absl::Status Unsupported(const GgufFile& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file.source(), ": ", what));
}

}  // namespace

absl::StatusOr<ModelConfig> GgufModelConfig(const GgufFile& file) {
  auto arch = file.String("general.architecture");
  if (!arch.ok()) return arch.status();
  ModelConfig c;
  if (*arch == "llama" || *arch == "mistral" || *arch == "qwen2" || *arch == "qwen3") {
    c.model_type = *arch;
  } else {
    return Unsupported(file, absl::StrCat("GGUF general.architecture '", *arch,
                                          "' is not supported (llama, mistral, qwen2, qwen3 are)"));
  }
  const std::string p = *arch + ".";
  auto get_int = [&](const std::string& key, int64_t* out) -> absl::Status {
    auto v = file.Unsigned(p + key);
    if (!v.ok()) return v.status();
    if (*v > (uint64_t{1} << 31)) return Unsupported(file, absl::StrCat("GGUF ", p, key, " = ", *v, " is out of range"));
    *out = static_cast<int64_t>(*v);
    return absl::OkStatus();
  };
  for (const auto& [key, field] : std::vector<std::pair<std::string, int64_t*>>{
           {"block_count", &c.num_hidden_layers},
           {"embedding_length", &c.hidden_size},
           {"feed_forward_length", &c.intermediate_size},
           {"attention.head_count", &c.num_attention_heads}}) {
    if (auto s = get_int(key, field); !s.ok()) return s;
  }
  c.num_key_value_heads = c.num_attention_heads;
  if (file.Has(p + "attention.head_count_kv")) {
    if (auto s = get_int("attention.head_count_kv", &c.num_key_value_heads); !s.ok()) return s;
  }
  if (file.Has(p + "context_length")) {
    if (auto s = get_int("context_length", &c.max_position_embeddings); !s.ok()) return s;
  }
  if (c.num_attention_heads <= 0 || c.hidden_size % c.num_attention_heads != 0) {
    return Unsupported(file, "GGUF attention.head_count does not divide embedding_length");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (file.Has(p + "attention.key_length")) {
    if (auto s = get_int("attention.key_length", &c.head_dim); !s.ok()) return s;
  }
  if (file.Has(p + "rope.dimension_count")) {
    int64_t rotary = 0;
    if (auto s = get_int("rope.dimension_count", &rotary); !s.ok()) return s;
    if (rotary != c.head_dim) {
      return Unsupported(file, absl::StrCat("GGUF ", p, "rope.dimension_count ", rotary, " differs from the head size ",
                                            c.head_dim, ": partial rotary embeddings are not supported"));
    }
  }
  if (file.Has(p + "rope.freq_base")) {
    auto theta = file.Float(p + "rope.freq_base");
    if (!theta.ok()) return theta.status();
    c.rope_theta = *theta;
  }
  auto eps = file.Float(p + "attention.layer_norm_rms_epsilon");
  if (!eps.ok()) return eps.status();
  c.rms_norm_eps = *eps;
  if (file.Has(p + "rope.scaling.type")) {
    const std::string type = file.String(p + "rope.scaling.type").value_or("?");
    if (type != "none") return Unsupported(file, absl::StrCat("GGUF ", p, "rope.scaling.type '", type, "' is not supported"));
  }
  if (file.FindTensor("rope_freqs.weight") != nullptr) {
    return Unsupported(file, "GGUF tensor rope_freqs.weight (Llama 3.1 RoPE scaling) is not supported from GGUF");
  }
  const GgufTensorInfo* embed = file.FindTensor("token_embd.weight");
  if (embed == nullptr || embed->dims.size() != 2) return Unsupported(file, "GGUF tensor token_embd.weight is missing");
  c.vocab_size = embed->dims[1];
  if (file.Has(p + "vocab_size")) {
    int64_t vocab = 0;
    if (auto s = get_int("vocab_size", &vocab); !s.ok()) return s;
    if (vocab != c.vocab_size) {
      return Unsupported(file, absl::StrCat("GGUF ", p, "vocab_size ", vocab, " differs from token_embd.weight's ",
                                            c.vocab_size, " rows"));
    }
  }
  c.tie_word_embeddings = file.FindTensor("output.weight") == nullptr;
  c.attention_bias = c.model_type == "llama" && file.FindTensor("blk.0.attn_q.bias") != nullptr;
  c.torch_dtype = "float32";
  auto tokenizer = GgufTokenizer(file);
  if (tokenizer.ok()) {
    c.bos_token_id = tokenizer->bos_token_id;
    c.pad_token_id = tokenizer->pad_token_id;
    if (tokenizer->eos_token_id) c.eos_token_ids = {*tokenizer->eos_token_id};
  }
  if (auto s = ValidateModelConfig(c, file.source()); !s.ok()) return s;
  // block_count and the sizes against the tensor table, before anything is
  // built from them (GGUF dims are fastest-first: reversed to HF's order).
  WeightShapes shapes;
  for (const GgufTensorInfo& t : file.tensors()) {
    shapes[HfNameOf(t.name)] = std::vector<int64_t>(t.dims.rbegin(), t.dims.rend());
  }
  if (auto s = CheckConfigAgainstWeights(c, shapes, file.source()); !s.ok()) return s;
  return c;
}

WeightSource GgufWeightSource(const GgufFile& file, const ModelConfig& config) {
  auto by_hf_name = std::make_shared<std::map<std::string, const GgufTensorInfo*>>();
  WeightSource source;
  for (const GgufTensorInfo& t : file.tensors()) {
    const std::string name = HfNameOf(t.name);
    by_hf_name->emplace(name, &t);
    source.names.push_back(name);
  }
  // transformers undoes the permutation for the "llama" architecture only (llama.cpp also writes Mistral as llama).
  const bool permuted = config.model_type == "llama";
  const int64_t heads = config.num_attention_heads;
  const int64_t kv_heads = config.num_key_value_heads;
  source.get = [&file, by_hf_name, permuted, heads, kv_heads](const std::string& name) -> absl::StatusOr<torch::Tensor> {
    const auto it = by_hf_name->find(name);
    if (it == by_hf_name->end()) return absl::NotFoundError(absl::StrCat(file.source(), ": no tensor for ", name));
    const GgufTensorInfo& t = *it->second;
    std::vector<int64_t> shape(t.dims.rbegin(), t.dims.rend());
    torch::Tensor out = torch::empty(shape, torch::kFloat32);
    if (auto s = DequantizeToFloat(t.type, file.TensorData(t), t.elements, out.data_ptr<float>()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file.source(), ": tensor ", t.name, ": ", s.message()));
    }
    if (permuted && absl::StrContains(name, "self_attn.q_proj.")) return ReversePermute(out, heads);
    if (permuted && absl::StrContains(name, "self_attn.k_proj.")) return ReversePermute(out, kv_heads);
    return out;
  };
  return source;
}

}  // namespace tunefleet
