#include "trainer/model/model_weights_check.h"

#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace tunefleet {
namespace {

std::string ShapeText(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

absl::Status Mismatch(const std::string& source, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": the config does not match the weights: ", what));
}

// A 2-D weight `name` must have `expected` as its shape when present;
// `required` ones must be present.
absl::Status CheckShape(const WeightShapes& weights, const std::string& name, const std::vector<int64_t>& expected,
                        bool required, const std::string& source) {
  const auto it = weights.find(name);
  if (it == weights.end()) {
    if (!required) return absl::OkStatus();
    return Mismatch(source, absl::StrCat("no tensor ", name, " (expected shape ", ShapeText(expected), ")"));
  }
  if (it->second != expected) {
    return Mismatch(source, absl::StrCat(name, " has shape ", ShapeText(it->second), ", the config implies ",
                                         ShapeText(expected)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckConfigAgainstWeights(const ModelConfig& c, const WeightShapes& weights, const std::string& source) {
  // Layers: the indices of "model.layers.<i>." present.
  constexpr absl::string_view kLayerPrefix = "model.layers.";
  std::set<int64_t> layers;
  for (const auto& entry : weights) {
    absl::string_view name = entry.first;
    if (name.substr(0, kLayerPrefix.size()) != kLayerPrefix) continue;
    name.remove_prefix(kLayerPrefix.size());
    int64_t index = 0;
    if (absl::SimpleAtoi(name.substr(0, name.find('.')), &index)) layers.insert(index);
  }
  const int64_t present = static_cast<int64_t>(layers.size());
  if (present != c.num_hidden_layers) {
    return Mismatch(source, absl::StrCat("num_hidden_layers is ", c.num_hidden_layers, " but the weights hold ",
                                         present, " layer(s)"));
  }
  if (present > 0 && (*layers.begin() != 0 || *layers.rbegin() != present - 1)) {
    return Mismatch(source, absl::StrCat("layer indices run from ", *layers.begin(), " to ", *layers.rbegin(),
                                         ", not 0 to ", present - 1));
  }
  const int64_t q = c.num_attention_heads * c.head_dim;
  const int64_t kv = c.num_key_value_heads * c.head_dim;
  const std::pair<std::string, std::vector<int64_t>> expected[] = {
      {"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}},
      {"model.layers.0.self_attn.q_proj.weight", {q, c.hidden_size}},
      {"model.layers.0.self_attn.k_proj.weight", {kv, c.hidden_size}},
      {"model.layers.0.self_attn.v_proj.weight", {kv, c.hidden_size}},
      {"model.layers.0.self_attn.o_proj.weight", {c.hidden_size, q}},
      {"model.layers.0.mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}},
      {"model.layers.0.mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}},
      {"model.layers.0.mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}},
  };
  for (const auto& [name, shape] : expected) {
    if (auto s = CheckShape(weights, name, shape, /*required=*/true, source); !s.ok()) return s;
  }
  // Whether an untied head must be present is LoadWeights' to say (by name);
  // here only its shape, when it is there.
  return CheckShape(weights, "lm_head.weight", {c.vocab_size, c.hidden_size}, /*required=*/false, source);
}

}  // namespace tunefleet
