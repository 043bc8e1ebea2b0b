#include "trainer/model/nf4.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tunefleet {
namespace {

nlohmann::json OracleOutputs() {
  // Written by testdata/nf4_oracle.py (numpy, nearest level by argmin).
  std::ifstream in(std::string(TUNEFLEET_SOURCE_DIR) + "/trainer/model/testdata/nf4_expected.json");
  EXPECT_TRUE(in.good());
  return nlohmann::json::parse(in);
}

torch::Tensor FloatTensor(const nlohmann::json& values) {
  return torch::tensor(values.get<std::vector<float>>(), torch::kFloat32);
}

TEST(Nf4Test, LevelsAreTheQloraCodebook) {
  const nlohmann::json oracle = OracleOutputs();
  const auto published = oracle["levels"].get<std::vector<float>>();
  const auto derived = oracle["derived_levels"].get<std::vector<float>>();
  ASSERT_EQ(published.size(), 16u);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(Nf4Levels()[i], published[i]) << i;      // bitsandbytes' table, bit for bit
    EXPECT_NEAR(Nf4Levels()[i], derived[i], 1e-6) << i;  // the normal quantiles it comes from
  }
  EXPECT_EQ(Nf4Levels()[0], -1.0f);
  EXPECT_EQ(Nf4Levels()[7], 0.0f);
  EXPECT_EQ(Nf4Levels()[15], 1.0f);
}

TEST(Nf4Test, MatchesTheNumpyOracleBitForBit) {
  const nlohmann::json oracle = OracleOutputs();
  ASSERT_EQ(oracle["cases"].size(), 4u);
  for (const auto& c : oracle["cases"]) {
    const auto shape = c["shape"].get<std::vector<int64_t>>();
    torch::Tensor values = FloatTensor(c["values"]).view(shape);
    Nf4Tensor q = QuantizeNf4(values);
    const auto packed = c["packed"].get<std::vector<int>>();
    ASSERT_EQ(q.packed.numel(), static_cast<int64_t>(packed.size()));
    ASSERT_EQ(q.packed.scalar_type(), torch::kUInt8);
    torch::Tensor expected_packed = torch::tensor(packed, torch::kInt32).to(torch::kUInt8);
    EXPECT_TRUE(torch::equal(q.packed, expected_packed)) << c["shape"];
    EXPECT_TRUE(torch::equal(q.absmax, FloatTensor(c["absmax"]))) << c["shape"];
    torch::Tensor back = DequantizeNf4(q);
    EXPECT_EQ(back.sizes().vec(), shape);
    EXPECT_TRUE(torch::equal(back, FloatTensor(c["dequantized"]).view(shape))) << c["shape"];
  }
}

TEST(Nf4Test, OddSizesPadTheLastBlockAndKeepTheShape) {
  torch::manual_seed(5);
  for (int64_t n : {1, 63, 64, 65, 127, 200}) {
    torch::Tensor values = torch::randn({n});
    Nf4Tensor q = QuantizeNf4(values);
    const int64_t blocks = (n + 63) / 64;
    EXPECT_EQ(q.absmax.numel(), blocks) << n;
    EXPECT_EQ(q.packed.numel(), blocks * 32) << n;
    EXPECT_EQ(q.nbytes(), blocks * 32 + blocks * 4) << n;
    EXPECT_EQ(q.numel(), n);
    EXPECT_EQ(DequantizeNf4(q).numel(), n);
  }
}

TEST(Nf4Test, RoundTripErrorIsWithinHalfTheWidestLevelGapTimesTheScale) {
  torch::manual_seed(7);
  torch::Tensor w = torch::randn({96, 80}) * 0.05;
  Nf4Tensor q = QuantizeNf4(w);
  torch::Tensor back = DequantizeNf4(q);
  // Widest gap between adjacent levels: -1 to -0.6961928 (at the bottom).
  const double half_gap = (1.0 - 0.6961928009986877) / 2.0;
  torch::Tensor scale = q.absmax.repeat_interleave(64).narrow(0, 0, w.numel()).view(w.sizes());
  torch::Tensor err = (back - w).abs();
  EXPECT_TRUE((err <= scale * half_gap + 1e-7).all().item<bool>());
  // Each block's largest magnitude is a level (+-1) exactly.
  torch::Tensor blocks = back.reshape({-1, 64}).abs().amax(1);
  EXPECT_TRUE(torch::allclose(blocks, q.absmax, 0, 0));
  // Typical error for normal weights: a few percent of the scale, not more.
  const double rel = ((back - w).norm() / w.norm()).item<double>();
  EXPECT_GT(rel, 0.01);
  EXPECT_LT(rel, 0.15);
}

TEST(Nf4Test, LevelsAndZeroAreExactAndQuantisationIsIdempotent) {
  const auto& lv = Nf4Levels();
  torch::Tensor levels = torch::tensor(std::vector<float>(lv.begin(), lv.end())).repeat(4) * 0.25f;
  Nf4Tensor q = QuantizeNf4(levels);
  EXPECT_TRUE(torch::equal(DequantizeNf4(q), levels));
  EXPECT_TRUE(torch::equal(DequantizeNf4(QuantizeNf4(torch::zeros({70}))), torch::zeros({70})));
  torch::manual_seed(2);
  torch::Tensor once = DequantizeNf4(QuantizeNf4(torch::randn({4, 64})));
  EXPECT_TRUE(torch::equal(DequantizeNf4(QuantizeNf4(once)), once));
}

TEST(Nf4Test, DequantisesToTheAskedDtypeAndIsDeterministic) {
  torch::manual_seed(3);
  torch::Tensor w = torch::randn({10, 30});
  Nf4Tensor a = QuantizeNf4(w);
  Nf4Tensor b = QuantizeNf4(w.clone());
  EXPECT_TRUE(torch::equal(a.packed, b.packed));
  EXPECT_TRUE(torch::equal(a.absmax, b.absmax));
  torch::Tensor bf16 = DequantizeNf4(a, torch::kBFloat16);
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(bf16, DequantizeNf4(a).to(torch::kBFloat16)));
  // A bf16 input quantises from its float32 widening.
  EXPECT_TRUE(torch::equal(QuantizeNf4(w.to(torch::kBFloat16)).packed,
                           QuantizeNf4(w.to(torch::kBFloat16).to(torch::kFloat32)).packed));
}

}  // namespace
}  // namespace tunefleet
