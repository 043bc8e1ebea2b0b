#include "trainer/model/model_config.h"

#include <cmath>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fs/process_path_policy.h"

namespace tunefleet {
namespace {

using nlohmann::json;

// Reads typed fields off a config.json object. The first error is kept and
// later reads return defaults, so Parse reads top to bottom without a check
// after every field.
class FieldReader {
 public:
  FieldReader(const json& object, const std::string& source) : object_(object), source_(source) {}

  // Present and not null: Hugging Face writes absent options as null.
  bool Has(const char* key) const {
    auto it = object_.find(key);
    return it != object_.end() && !it->is_null();
  }

  int64_t Int(const char* key, std::optional<int64_t> fallback) {
    if (!Has(key)) {
      if (!fallback)
        Fail(absl::InvalidArgumentError(absl::StrCat(source_, ": missing required field \"", key, "\"")));
      return fallback.value_or(0);
    }
    const json& v = object_.at(key);
    if (!v.is_number_integer()) {
      Wrong(key, "an integer");
      return 0;
    }
    return v.get<int64_t>();
  }

  double Double(const char* key, double fallback) {
    if (!Has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_number()) {
      Wrong(key, "a number");
      return fallback;
    }
    return v.get<double>();
  }

  bool Bool(const char* key, bool fallback) {
    if (!Has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_boolean()) {
      Wrong(key, "a boolean");
      return fallback;
    }
    return v.get<bool>();
  }

  std::string String(const char* key, const std::string& fallback) {
    if (!Has(key)) return fallback;
    const json& v = object_.at(key);
    if (!v.is_string()) {
      Wrong(key, "a string");
      return fallback;
    }
    return v.get<std::string>();
  }

  std::optional<int64_t> OptionalInt(const char* key) {
    if (!Has(key)) return std::nullopt;
    return Int(key, 0);
  }

  // One id or a list of ids (eos_token_id).
  std::vector<int64_t> IntList(const char* key) {
    if (!Has(key)) return {};
    const json& v = object_.at(key);
    if (v.is_number_integer()) return {v.get<int64_t>()};
    std::vector<int64_t> out;
    if (!v.is_array()) {
      Wrong(key, "an integer or a list of integers");
      return out;
    }
    for (const json& e : v) {
      if (!e.is_number_integer()) {
        Wrong(key, "an integer or a list of integers");
        return out;
      }
      out.push_back(e.get<int64_t>());
    }
    return out;
  }

  void Unsupported(const std::string& what) {
    Fail(absl::UnimplementedError(absl::StrCat(source_, ": unsupported ", what)));
  }
  void Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  const absl::Status& status() const { return status_; }

 private:
  void Wrong(const char* key, const char* expected) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat(source_, ": field \"", key, "\" must be ", expected, ", got ", object_.at(key).dump())));
  }

  const json& object_;
  const std::string& source_;
  absl::Status status_;
};

// rope_scaling (transformers 4.x) or rope_parameters (5.x): "default" or
// absent means plain RoPE; "llama3" is implemented; any other is an error.
void ParseRope(const json& object, const char* field, const std::string& source, FieldReader& top,
               ModelConfig& config) {
  if (!object.is_object()) {
    top.Fail(absl::InvalidArgumentError(
        absl::StrCat(source, ": field \"", field, "\" must be an object or null")));
    return;
  }
  FieldReader r(object, source);
  // Older files say "type", newer "rope_type".
  const std::string type = r.Has("rope_type") ? r.String("rope_type", "") : r.String("type", "default");
  config.rope_theta = r.Double("rope_theta", config.rope_theta);
  if (type == "llama3") {
    RopeScaling s;
    s.rope_type = type;
    s.factor = r.Double("factor", s.factor);
    s.low_freq_factor = r.Double("low_freq_factor", s.low_freq_factor);
    s.high_freq_factor = r.Double("high_freq_factor", s.high_freq_factor);
    s.original_max_position_embeddings =
        r.Int("original_max_position_embeddings", s.original_max_position_embeddings);
    config.rope_scaling = s;
  } else if (type != "default") {
    top.Unsupported(absl::StrCat(field, " type \"", type, "\" (implemented: llama3)"));
  }
  if (r.Has("partial_rotary_factor") && r.Double("partial_rotary_factor", 1.0) != 1.0) {
    top.Unsupported(absl::StrCat(field, ".partial_rotary_factor"));
  }
  top.Fail(r.status());
}

const char* Architecture(const std::string& model_type) {
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "qwen3") return "Qwen3ForCausalLM";
  if (model_type == "mistral") return "MistralForCausalLM";
  return "LlamaForCausalLM";
}

absl::StatusOr<ModelConfig> Parse(const json& j, const std::string& source) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  FieldReader r(j, source);
  ModelConfig c;
  c.model_type = r.String("model_type", "");
  if (!r.status().ok()) return r.status();
  if (c.model_type != "llama" && c.model_type != "qwen2" && c.model_type != "qwen3" &&
      c.model_type != "mistral") {
    return absl::UnimplementedError(absl::StrCat(source, ": unsupported model_type \"", c.model_type,
                                                 "\" (supported: llama, qwen2, qwen3, mistral)"));
  }
  const bool llama = c.model_type == "llama";
  const bool qwen = c.model_type == "qwen2" || c.model_type == "qwen3";
  // transformers' defaults for fields a config.json may leave out.
  const int64_t default_max_positions = llama ? 2048 : qwen ? 32768 : 4096 * 32;

  c.hidden_size = r.Int("hidden_size", std::nullopt);
  c.intermediate_size = r.Int("intermediate_size", std::nullopt);
  c.num_hidden_layers = r.Int("num_hidden_layers", std::nullopt);
  c.num_attention_heads = r.Int("num_attention_heads", std::nullopt);
  c.num_key_value_heads = r.Int("num_key_value_heads", c.num_attention_heads);
  c.vocab_size = r.Int("vocab_size", std::nullopt);
  c.max_position_embeddings = r.Int("max_position_embeddings", default_max_positions);
  if (!r.status().ok()) return r.status();
  // Qwen3's head_dim defaults to 128 whatever hidden_size is; the others derive it.
  c.head_dim = r.Int("head_dim", c.model_type == "qwen3"     ? 128
                                 : c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads
                                                             : 0);
  c.rms_norm_eps = r.Double("rms_norm_eps", 1e-6);
  c.rope_theta = r.Double("rope_theta", 10000.0);
  if (r.Has("rope_scaling")) ParseRope(j.at("rope_scaling"), "rope_scaling", source, r, c);
  if (r.Has("rope_parameters")) ParseRope(j.at("rope_parameters"), "rope_parameters", source, r, c);
  c.tie_word_embeddings = r.Bool("tie_word_embeddings", false);
  // Llama and Qwen3 read attention_bias; qwen2's q/k/v bias is fixed, mistral has none.
  if (llama || c.model_type == "qwen3") c.attention_bias = r.Bool("attention_bias", false);
  c.hidden_act = r.String("hidden_act", "silu");
  c.initializer_range = r.Double("initializer_range", 0.02);
  c.torch_dtype = r.Has("torch_dtype") ? r.String("torch_dtype", "") : r.String("dtype", "");
  c.bos_token_id = r.OptionalInt("bos_token_id");
  c.pad_token_id = r.OptionalInt("pad_token_id");
  c.eos_token_ids = r.IntList("eos_token_id");

  // Options that change the computation and are not implemented.
  if (c.hidden_act != "silu")
    r.Unsupported(absl::StrCat("hidden_act \"", c.hidden_act, "\" (implemented: silu)"));
  if (r.Bool("mlp_bias", false)) r.Unsupported("mlp_bias true");
  if (r.Double("attention_dropout", 0.0) != 0.0) r.Unsupported("attention_dropout other than 0");
  if (r.Bool("rope_interleaved", false)) r.Unsupported("rope_interleaved true");
  if (r.Has("partial_rotary_factor") && r.Double("partial_rotary_factor", 1.0) != 1.0) {
    r.Unsupported("partial_rotary_factor other than 1");
  }
  if (!llama) {
    c.sliding_window = r.OptionalInt("sliding_window");
    // Absent (not null) means transformers' default window, 4096.
    if (!j.contains("sliding_window")) c.sliding_window = 4096;
    // Qwen2/3 apply their window only when use_sliding_window is set; Mistral always.
    c.use_sliding_window =
        c.model_type == "mistral" ? c.sliding_window.has_value() : r.Bool("use_sliding_window", false);
    if (c.use_sliding_window && c.sliding_window && *c.sliding_window < c.max_position_embeddings) {
      r.Unsupported(absl::StrCat("sliding_window ", *c.sliding_window,
                                 " (smaller than max_position_embeddings ", c.max_position_embeddings,
                                 "; only full attention is implemented)"));
    }
  }
  // transformers 5 lists each layer's attention kind; only the two kinds the
  // checks above cover exist for these architectures.
  if (r.Has("layer_types")) {
    const json& types = j.at("layer_types");
    if (!types.is_array()) {
      r.Fail(absl::InvalidArgumentError(absl::StrCat(source, ": field \"layer_types\" must be a list")));
    } else {
      for (const json& t : types) {
        if (!t.is_string() || (t != "full_attention" && t != "sliding_attention")) {
          r.Unsupported(absl::StrCat("layer_types entry ", t.dump(), " (implemented: full_attention)"));
          break;
        }
      }
    }
  }
  if (!r.status().ok()) return r.status();
  absl::Status valid = ValidateModelConfig(c, source);
  if (!valid.ok()) return valid;
  return c;
}

}  // namespace

bool ModelConfig::qkv_bias() const {
  return model_type == "qwen2" || ((model_type == "llama" || model_type == "qwen3") && attention_bias);
}
bool ModelConfig::o_bias() const {
  return (model_type == "llama" || model_type == "qwen3") && attention_bias;
}

absl::Status ValidateModelConfig(const ModelConfig& c, const std::string& source) {
  auto invalid = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
  };
  const std::pair<const char*, int64_t> positive[] = {{"hidden_size", c.hidden_size},
                                                      {"intermediate_size", c.intermediate_size},
                                                      {"num_hidden_layers", c.num_hidden_layers},
                                                      {"num_attention_heads", c.num_attention_heads},
                                                      {"num_key_value_heads", c.num_key_value_heads},
                                                      {"head_dim", c.head_dim},
                                                      {"vocab_size", c.vocab_size},
                                                      {"max_position_embeddings", c.max_position_embeddings}};
  for (const auto& [name, value] : positive) {
    if (value <= 0) return invalid(absl::StrCat(name, " must be positive, got ", value));
  }
  const std::pair<const char*, std::pair<int64_t, int64_t>> bounded[] = {
      {"num_hidden_layers", {c.num_hidden_layers, kMaxModelLayers}},
      {"hidden_size", {c.hidden_size, kMaxModelHiddenSize}},
      {"intermediate_size", {c.intermediate_size, kMaxModelIntermediateSize}},
      {"num_attention_heads", {c.num_attention_heads, kMaxModelAttentionHeads}},
      {"num_key_value_heads", {c.num_key_value_heads, c.num_attention_heads}},
      {"head_dim", {c.head_dim, kMaxModelHeadDim}},
      {"vocab_size", {c.vocab_size, kMaxModelVocabSize}},
      {"max_position_embeddings", {c.max_position_embeddings, kMaxModelPositionEmbeddings}}};
  for (const auto& [name, value_and_max] : bounded) {
    if (value_and_max.first > value_and_max.second) {
      return invalid(absl::StrCat(name, " ", value_and_max.first, " is more than the limit of ", value_and_max.second));
    }
  }
  if (const int64_t params = ModelParameterCount(c); params > kMaxModelParameters) {
    return invalid(absl::StrCat("the configuration implies ", params, " parameters, more than the limit of ",
                                kMaxModelParameters));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return invalid(absl::StrCat("num_attention_heads ", c.num_attention_heads,
                                " must be a multiple of num_key_value_heads ", c.num_key_value_heads));
  }
  if (c.head_dim % 2 != 0) return invalid(absl::StrCat("head_dim ", c.head_dim, " must be even (RoPE)"));
  if (!(c.rms_norm_eps > 0.0) || !std::isfinite(c.rms_norm_eps)) return invalid("rms_norm_eps must be positive and finite");
  if (!(c.rope_theta > 0.0) || !std::isfinite(c.rope_theta)) return invalid("rope_theta must be positive and finite");
  if (!(c.initializer_range >= 0.0) || !std::isfinite(c.initializer_range)) {
    return invalid("initializer_range must be a finite number, not negative");
  }
  if (c.hidden_act != "silu") {
    return absl::UnimplementedError(absl::StrCat(source, ": unsupported hidden_act \"", c.hidden_act, "\""));
  }
  if (c.rope_scaling) {
    const RopeScaling& s = *c.rope_scaling;
    if (s.rope_type != "llama3") {
      return absl::UnimplementedError(
          absl::StrCat(source, ": unsupported rope_scaling type \"", s.rope_type, "\""));
    }
    if (!(s.factor > 0.0) || !(s.low_freq_factor > 0.0) || !(s.high_freq_factor > s.low_freq_factor) ||
        !std::isfinite(s.factor) || !std::isfinite(s.high_freq_factor) || s.original_max_position_embeddings <= 0) {
      return invalid(
          "rope_scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
          "original_max_position_embeddings > 0");
    }
  }
  return absl::OkStatus();
}

int64_t ModelParameterCount(const ModelConfig& c) {
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  const int64_t attention = c.hidden_size * (q + 2 * kv) + q * c.hidden_size + (c.qkv_bias() ? q + 2 * kv : 0);
  const int64_t mlp = 3 * c.hidden_size * c.intermediate_size;
  const int64_t per_layer = attention + mlp + 2 * c.hidden_size;
  const int64_t embeddings = c.vocab_size * c.hidden_size * (c.tie_word_embeddings ? 1 : 2);
  return embeddings + c.num_hidden_layers * per_layer + c.hidden_size;
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source) {
  try {
    const json j = json::parse(json_text, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
    return Parse(j, source);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadUserFile(path);  // through the path policy
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("cannot open model config ", path, ": ", text.status().message()));
  }
  return ParseModelConfig(*text, path);
}

std::string ModelConfig::ToJson() const {
  json j;
  j["architectures"] = json::array({Architecture(model_type)});
  j["model_type"] = model_type;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["vocab_size"] = vocab_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["rope_scaling"] = nullptr;
  if (rope_scaling) {
    j["rope_scaling"] = {
        {"rope_type", rope_scaling->rope_type},
        {"factor", rope_scaling->factor},
        {"low_freq_factor", rope_scaling->low_freq_factor},
        {"high_freq_factor", rope_scaling->high_freq_factor},
        {"original_max_position_embeddings", rope_scaling->original_max_position_embeddings}};
  }
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["hidden_act"] = hidden_act;
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = initializer_range;
  j["use_cache"] = true;
  if (model_type == "llama") {
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = false;
  } else {
    if (model_type == "qwen3") j["attention_bias"] = attention_bias;
    j["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  }
  if (model_type == "qwen2" || model_type == "qwen3") {
    j["use_sliding_window"] = use_sliding_window;
    j["max_window_layers"] = num_hidden_layers;
  }
  if (!torch_dtype.empty()) j["torch_dtype"] = torch_dtype;
  if (bos_token_id) j["bos_token_id"] = *bos_token_id;
  if (pad_token_id) j["pad_token_id"] = *pad_token_id;
  if (eos_token_ids.size() == 1) j["eos_token_id"] = eos_token_ids[0];
  if (eos_token_ids.size() > 1) j["eos_token_id"] = eos_token_ids;
  return j.dump(2) + "\n";
}

}  // namespace tunefleet
