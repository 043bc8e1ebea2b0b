// The bounds a config.json must keep (model_config.h) and its agreement with
// the weights actually present (model_weights_check.h), checked before any
// allocation: the hostile configs of issue #15 fail fast and by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "trainer/model/model_config.h"
#include "trainer/model/model_weights_check.h"
#include "trainer/safetensors/safetensors_writer.h"
#include "trainer/safetensors/sharded_weights.h"

namespace tunefleet {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(TUNEFLEET_SOURCE_DIR) + "/trainer/model/testdata/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json Tiny(int64_t layers) {
  return {{"model_type", "llama"},  {"hidden_size", 8},        {"intermediate_size", 16},
          {"num_hidden_layers", layers}, {"num_attention_heads", 2}, {"num_key_value_heads", 1},
          {"vocab_size", 32},       {"tie_word_embeddings", true}};
}

// Resident memory of this process, from /proc (kB -> bytes).
int64_t ResidentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// A model dir's model.safetensors holding `layers` layers of Tiny's shapes.
std::string WriteTinyWeights(int64_t layers) {
  const std::string dir = ::testing::TempDir() + "/model_limits_" + std::to_string(layers);
  std::filesystem::create_directories(dir);
  static const std::vector<float> zeros(32 * 8, 0.0f);
  std::vector<TensorToWrite> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    tensors.push_back({name, SafetensorsDType::kF32, shape, zeros.data(), size_t(shape[0] * shape[1]) * 4});
  };
  add("model.embed_tokens.weight", {32, 8});
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "self_attn.q_proj.weight", {8, 8});
    add(p + "self_attn.k_proj.weight", {4, 8});
    add(p + "self_attn.v_proj.weight", {4, 8});
    add(p + "self_attn.o_proj.weight", {8, 8});
    add(p + "mlp.gate_proj.weight", {16, 8});
    add(p + "mlp.up_proj.weight", {16, 8});
    add(p + "mlp.down_proj.weight", {8, 16});
  }
  EXPECT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
  return dir;
}

WeightShapes ShapesIn(const std::string& dir) {
  auto weights = OpenModelWeights(dir);
  EXPECT_TRUE(weights.ok()) << weights.status();
  WeightShapes shapes;
  for (const std::string& name : (*weights)->names()) shapes[name] = (*(*weights)->Get(name))->shape;
  return shapes;
}

TEST(ModelLimits, RealConfigsAreWithinEveryLimit) {
  for (const char* name : {"llama3_2_1b_config.json", "mistral_7b_v0_3_config.json", "qwen2_5_0_5b_config.json",
                           "qwen3_0_6b_config.json", "smollm2_135m_config.json"}) {
    auto c = ParseModelConfig(ReadFixture(name), name);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_LT(ModelParameterCount(*c), int64_t{8} << 30) << name;
  }
}

TEST(ModelLimits, EachSizeOverItsLimitIsRefusedByName) {
  struct Case {
    const char* field;
    int64_t value;
  };
  const Case cases[] = {
      {"num_hidden_layers", 100000},       {"hidden_size", kMaxModelHiddenSize * 2},
      {"intermediate_size", int64_t{1} << 40}, {"num_attention_heads", 4096},
      {"head_dim", 1 << 20},               {"vocab_size", int64_t{1} << 40},
      {"max_position_embeddings", int64_t{1} << 50},
  };
  for (const Case& c : cases) {
    json config = Tiny(2);
    config[c.field] = c.value;
    if (std::string(c.field) == "num_attention_heads") config["head_dim"] = 4;
    auto parsed = ParseModelConfig(config.dump(), "config.json");
    ASSERT_FALSE(parsed.ok()) << c.field;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.field));
    EXPECT_THAT(parsed.status().message(), HasSubstr("limit"));
  }
  // Each size within its limit, the product not: 1024 layers of a model 65536 wide.
  json wide = Tiny(1024);
  wide["hidden_size"] = 65536;
  wide["intermediate_size"] = 262144;
  wide["num_attention_heads"] = 64;
  wide["num_key_value_heads"] = 64;
  auto parsed = ParseModelConfig(wide.dump(), "config.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("parameters, more than the limit"));
  json more_kv = Tiny(2);
  more_kv["num_key_value_heads"] = 4;
  EXPECT_THAT(ParseModelConfig(more_kv.dump(), "config.json").status().message(), HasSubstr("num_key_value_heads"));
}

// Issue #15: a config with 100,000 layers was accepted and allocated. It now
// fails at parse time, in well under a second, and allocates nothing; one
// whose layer count is within the limit but not what the weights hold fails
// on the weights' headers, before any tensor is built.
TEST(ModelLimits, HundredThousandLayersOverThirtyLayersOfWeightsFailsFastWithoutAllocating) {
  const std::string dir = WriteTinyWeights(30);
  {
    std::ofstream(dir + "/config.json") << Tiny(100000).dump();
  }
  const int64_t rss_before = ResidentBytes();
  const auto start = std::chrono::steady_clock::now();
  auto config = LoadModelConfig(dir + "/config.json");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t rss_after = ResidentBytes();
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("num_hidden_layers 100000 is more than the limit of 1024"));
  EXPECT_THAT(config.status().message(), HasSubstr(dir + "/config.json"));
  EXPECT_LT(seconds, 1.0);
  EXPECT_LT(rss_after - rss_before, 4 << 20);
  RecordProperty("rss_before_bytes", std::to_string(rss_before));
  RecordProperty("rss_after_bytes", std::to_string(rss_after));
  std::printf("100000-layer config: refused in %.6f s, RSS %lld -> %lld bytes\n", seconds,
              static_cast<long long>(rss_before), static_cast<long long>(rss_after));

  const WeightShapes shapes = ShapesIn(dir);
  auto sixty = ParseModelConfig(Tiny(60).dump(), dir + "/config.json");
  ASSERT_TRUE(sixty.ok()) << sixty.status();
  const absl::Status mismatch = CheckConfigAgainstWeights(*sixty, shapes, dir);
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.message(), HasSubstr("num_hidden_layers is 60 but the weights hold 30 layer(s)"));
  auto thirty = ParseModelConfig(Tiny(30).dump(), dir + "/config.json");
  ASSERT_TRUE(thirty.ok());
  EXPECT_TRUE(CheckConfigAgainstWeights(*thirty, shapes, dir).ok());
}

TEST(ModelLimits, SizesThatDisagreeWithTheWeightsAreNamed) {
  const WeightShapes shapes = ShapesIn(WriteTinyWeights(2));
  struct Case {
    const char* field;
    int64_t value;
    const char* tensor;
  };
  const Case cases[] = {
      {"vocab_size", 50000, "model.embed_tokens.weight has shape [32, 8], the config implies [50000, 8]"},
      {"hidden_size", 16, "model.embed_tokens.weight"},
      {"intermediate_size", 4096, "mlp.gate_proj.weight"},
      {"num_key_value_heads", 2, "self_attn.k_proj.weight"},
  };
  for (const Case& c : cases) {
    json config = Tiny(2);
    config[c.field] = c.value;
    auto parsed = ParseModelConfig(config.dump(), "m/config.json");
    ASSERT_TRUE(parsed.ok()) << c.field << ": " << parsed.status();
    const absl::Status s = CheckConfigAgainstWeights(*parsed, shapes, "m");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(s.message(), HasSubstr(c.tensor)) << c.field;
  }
  WeightShapes gap = shapes;
  for (auto it = gap.begin(); it != gap.end();) {
    it = it->first.rfind("model.layers.0.", 0) == 0 ? gap.erase(it) : std::next(it);
  }
  gap["model.layers.5.mlp.up_proj.weight"] = {16, 8};
  auto two = ParseModelConfig(Tiny(2).dump(), "m/config.json");
  EXPECT_THAT(CheckConfigAgainstWeights(*two, gap, "m").message(), HasSubstr("layer indices run from 1 to 5"));
}

}  // namespace
}  // namespace tunefleet
