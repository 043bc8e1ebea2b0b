#include "trainer/model/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace tunefleet {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  return std::string(TUNEFLEET_SOURCE_DIR) + "/trainer/model/testdata/" + name;
}

json ReadFixture(const std::string& name) {
  std::ifstream in(Fixture(name));
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

TEST(ModelConfigTest, ParsesLlama32) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(Fixture("llama3_2_1b_config.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->hidden_size, 2048);
  EXPECT_EQ(c->intermediate_size, 8192);
  EXPECT_EQ(c->num_hidden_layers, 16);
  EXPECT_EQ(c->num_attention_heads, 32);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  ASSERT_TRUE(c->rope_scaling.has_value());
  EXPECT_EQ(c->rope_scaling->rope_type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope_scaling->factor, 32.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->qkv_bias());
  EXPECT_FALSE(c->o_bias());
  EXPECT_EQ(c->torch_dtype, "bfloat16");
  EXPECT_EQ(c->bos_token_id, 128000);
  EXPECT_THAT(c->eos_token_ids, ElementsAre(128001, 128008, 128009));
}

TEST(ModelConfigTest, ParsesQwen25WithQkvBiasAndDisabledWindow) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(Fixture("qwen2_5_0_5b_config.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen2");
  EXPECT_EQ(c->num_attention_heads, 14);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 64);  // 896 / 14
  EXPECT_TRUE(c->qkv_bias());
  EXPECT_FALSE(c->o_bias());
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->use_sliding_window);
  EXPECT_EQ(c->sliding_window, 131072);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_FALSE(c->rope_scaling.has_value());
  EXPECT_THAT(c->eos_token_ids, ElementsAre(151645));
}

TEST(ModelConfigTest, ParsesMistralV03) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(Fixture("mistral_7b_v0_3_config.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "mistral");
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->qkv_bias());
  EXPECT_FALSE(c->sliding_window.has_value());
  EXPECT_EQ(c->vocab_size, 32768);
}

TEST(ModelConfigTest, ParsesQwen3WithQkNormAndOwnHeadDim) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(Fixture("qwen3_0_6b_config.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen3");
  EXPECT_EQ(c->head_dim, 128);  // not 1024 / 16
  EXPECT_TRUE(c->qk_norm());
  EXPECT_FALSE(c->qkv_bias());
  EXPECT_FALSE(c->o_bias());
  EXPECT_FALSE(c->use_sliding_window);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_TRUE(c->tie_word_embeddings);
}

TEST(ModelConfigTest, Qwen3DefaultsAndAttentionBias) {
  json j = ReadFixture("qwen3_0_6b_config.json");
  j.erase("head_dim");
  j["attention_bias"] = true;
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j.dump(), "x/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 128);  // Qwen3Config's default, whatever hidden_size is
  EXPECT_TRUE(c->qkv_bias());
  EXPECT_TRUE(c->o_bias());
}

TEST(ModelConfigTest, RejectsUnknownLayerTypes) {
  json j = ReadFixture("qwen3_0_6b_config.json");
  j["layer_types"] = json::array({"full_attention", "chunked_attention"});
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j.dump(), "x/config.json");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(c.status().message(), HasSubstr("layer_types"));
  j["layer_types"] = json::array({"full_attention", "sliding_attention"});
  EXPECT_TRUE(ParseModelConfig(j.dump(), "x/config.json").ok());  // use_sliding_window is false
}

TEST(ModelConfigTest, ParsesSmolLM2AsLlama) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(Fixture("smollm2_135m_config.json"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->num_attention_heads, 9);
  EXPECT_EQ(c->num_key_value_heads, 3);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_DOUBLE_EQ(c->rope_theta, 100000.0);  // written as an integer
  EXPECT_FALSE(c->rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(c->initializer_range, 0.041666666666666664);
}

TEST(ModelConfigTest, DefaultsKvHeadsAndHeadDim) {
  json j = ReadFixture("mistral_7b_v0_3_config.json");
  j.erase("num_key_value_heads");
  j["rms_norm_eps"] = nullptr;
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j.dump(), "x/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_key_value_heads, 32);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
}

TEST(ModelConfigTest, AcceptsOldRopeScalingTypeKey) {
  json j = ReadFixture("llama3_2_1b_config.json");
  j["rope_scaling"].erase("rope_type");
  j["rope_scaling"]["type"] = "llama3";
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j.dump(), "x/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(c->rope_scaling->factor, 32.0);
}

TEST(ModelConfigTest, ToJsonRoundTrips) {
  for (const char* name : {"llama3_2_1b_config.json", "qwen2_5_0_5b_config.json", "qwen3_0_6b_config.json",
                           "mistral_7b_v0_3_config.json", "smollm2_135m_config.json"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<ModelConfig> c = LoadModelConfig(Fixture(name));
    ASSERT_TRUE(c.ok()) << c.status();
    const std::string text = c->ToJson();
    const json written = json::parse(text);
    const json original = ReadFixture(name);
    EXPECT_EQ(written["architectures"], original["architectures"]);
    for (const char* key :
         {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
          "num_key_value_heads", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta",
          "rope_scaling", "tie_word_embeddings", "hidden_act", "torch_dtype", "bos_token_id",
          "eos_token_id"}) {
      if (original.contains(key)) {
        EXPECT_EQ(written[key], original[key]) << key;
      }
    }
    absl::StatusOr<ModelConfig> again = ParseModelConfig(text, "written");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->ToJson(), text);
    EXPECT_EQ(again->qkv_bias(), c->qkv_bias());
  }
}

struct BadConfigCase {
  const char* name;
  const char* fixture;
  json patch;          // merged into the fixture (null removes a key)
  const char* option;  // must appear in the error
  absl::StatusCode code;
};

// gtest prints parameters byte by byte unless told how.
void PrintTo(const BadConfigCase& c, std::ostream* os) { *os << c.name; }

class BadConfigTest : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfigTest, NamesTheOptionAndTheFile) {
  const BadConfigCase& p = GetParam();
  json j = ReadFixture(p.fixture);
  j.merge_patch(p.patch);
  const std::string source = "/models/bad/config.json";
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j.dump(), source);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), p.code) << c.status();
  EXPECT_THAT(std::string(c.status().message()), AllOf(HasSubstr(p.option), HasSubstr(source)));
}

const auto kUnimplemented = absl::StatusCode::kUnimplemented;
const auto kInvalid = absl::StatusCode::kInvalidArgument;

INSTANTIATE_TEST_SUITE_P(
    Options, BadConfigTest,
    ::testing::Values(
        BadConfigCase{
            "model_type", "llama3_2_1b_config.json", {{"model_type", "gpt2"}}, "model_type", kUnimplemented},
        BadConfigCase{
            "hidden_act", "llama3_2_1b_config.json", {{"hidden_act", "gelu"}}, "hidden_act", kUnimplemented},
        BadConfigCase{
            "mlp_bias", "llama3_2_1b_config.json", {{"mlp_bias", true}}, "mlp_bias", kUnimplemented},
        BadConfigCase{"rope_linear",
                      "llama3_2_1b_config.json",
                      {{"rope_scaling", {{"type", "linear"}, {"factor", 2.0}, {"rope_type", nullptr}}}},
                      "rope_scaling",
                      kUnimplemented},
        BadConfigCase{"rope_yarn",
                      "qwen2_5_0_5b_config.json",
                      {{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}},
                      "rope_scaling",
                      kUnimplemented},
        BadConfigCase{"mistral_window",
                      "mistral_7b_v0_3_config.json",
                      {{"sliding_window", 4096}},
                      "sliding_window",
                      kUnimplemented},
        BadConfigCase{"qwen2_window",
                      "qwen2_5_0_5b_config.json",
                      {{"use_sliding_window", true}, {"sliding_window", 4096}},
                      "sliding_window",
                      kUnimplemented},
        BadConfigCase{"mistral_default_window",  // absent: transformers' 4096
                      "mistral_7b_v0_3_config.json",
                      {{"sliding_window", nullptr}},
                      "sliding_window",
                      kUnimplemented},
        BadConfigCase{"qwen3_default_window",
                      "qwen3_0_6b_config.json",
                      {{"use_sliding_window", true}, {"sliding_window", nullptr}, {"max_window_layers", 0}},
                      "sliding_window",
                      kUnimplemented},
        BadConfigCase{"attention_dropout",
                      "mistral_7b_v0_3_config.json",
                      {{"attention_dropout", 0.1}},
                      "attention_dropout",
                      kUnimplemented},
        BadConfigCase{"rope_interleaved",
                      "smollm2_135m_config.json",
                      {{"rope_interleaved", true}},
                      "rope_interleaved",
                      kUnimplemented},
        BadConfigCase{"missing_hidden_size",
                      "llama3_2_1b_config.json",
                      {{"hidden_size", nullptr}},
                      "hidden_size",
                      kInvalid},
        BadConfigCase{"string_hidden_size",
                      "llama3_2_1b_config.json",
                      {{"hidden_size", "2048"}},
                      "hidden_size",
                      kInvalid},
        BadConfigCase{"kv_heads_not_divisor",
                      "llama3_2_1b_config.json",
                      {{"num_key_value_heads", 7}},
                      "num_key_value_heads",
                      kInvalid},
        BadConfigCase{
            "zero_vocab", "mistral_7b_v0_3_config.json", {{"vocab_size", 0}}, "vocab_size", kInvalid}),
    [](const ::testing::TestParamInfo<BadConfigCase>& test) { return std::string(test.param.name); });

TEST(ModelConfigTest, MissingFileAndBadJsonNameThePath) {
  absl::StatusOr<ModelConfig> missing = LoadModelConfig("/no/such/config.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/no/such/config.json"));
  absl::StatusOr<ModelConfig> bad = ParseModelConfig("{\"model_type\": ", "m/config.json");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("m/config.json"));
}

}  // namespace
}  // namespace tunefleet
