#include "trainer/optim/flat_parameters.h"

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

TEST(FlatParameters, ParametersBecomeViewsAndGradsAccumulateInTheFlatBuffer) {
  torch::manual_seed(0);
  torch::nn::Linear linear(3, 2);
  const torch::Tensor w_before = linear->weight.detach().clone();
  std::vector<std::pair<std::string, torch::Tensor>> params = {{"weight", linear->weight},
                                                               {"bias", linear->bias}};
  auto flat = FlatParameters::Create(params, [](const std::string& n) { return n == "bias"; }, 4);
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(flat->numel(), 8);
  EXPECT_EQ(flat->padded_numel(), 8);
  EXPECT_EQ(flat->decay_numel(), 6);  // weight first, bias (no decay) after
  EXPECT_TRUE(torch::equal(linear->weight, w_before));
  EXPECT_EQ(linear->weight.data_ptr(), flat->values().data_ptr());

  torch::Tensor x = torch::randn({5, 3});
  linear(x).sum().backward();
  linear(x).sum().backward();  // accumulates
  torch::Tensor expected_bias_grad = torch::full({2}, 10.0f);
  EXPECT_TRUE(torch::allclose(flat->grads().narrow(0, 6, 2), expected_bias_grad));
  EXPECT_TRUE(torch::allclose(linear->bias.grad(), expected_bias_grad));

  // Writing the flat buffer moves the module's weights.
  flat->values().narrow(0, 6, 2).fill_(7.0f);
  EXPECT_TRUE(torch::allclose(linear->bias, torch::full({2}, 7.0f)));
  flat->ZeroGrads();
  EXPECT_EQ(linear->weight.grad().abs().sum().item<float>(), 0.0f);
}

TEST(FlatParameters, PadsToAMultiple) {
  torch::Tensor a = torch::ones({5}, torch::requires_grad());
  auto flat = FlatParameters::Create({{"a", a}}, [](const std::string&) { return false; }, 3);
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->numel(), 5);
  EXPECT_EQ(flat->padded_numel(), 6);
  EXPECT_EQ(flat->values()[5].item<float>(), 0.0f);
}

TEST(FlatParameters, EmptyIsAnError) {
  EXPECT_FALSE(FlatParameters::Create({}, [](const std::string&) { return false; }).ok());
}

}  // namespace
}  // namespace tunefleet
