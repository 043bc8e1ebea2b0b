#include "common/sweep_grid.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/sweep_limits.h"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::JobSpec Base() {
  v1::JobSpec spec;
  spec.mutable_model()->set_path("/models/tiny");
  spec.mutable_dataset()->set_path("/data/train.jsonl");
  spec.mutable_method()->set_type(v1::FINE_TUNE_METHOD_LORA);
  return spec;
}

google::protobuf::RepeatedPtrField<v1::SweepAxis> Axes(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& axes) {
  google::protobuf::RepeatedPtrField<v1::SweepAxis> out;
  for (const auto& [path, values] : axes) {
    v1::SweepAxis* axis = out.Add();
    axis->set_path(path);
    for (const auto& value : values) axis->add_values(value);
  }
  return out;
}

TEST(ExpandSweepGrid, CartesianProductWithTheLastAxisFastest) {
  auto points = ExpandSweepGrid(Base(), Axes({{"method.lora.rank", {"4", "8", "16"}},
                                              {"hyperparameters.learning_rate", {"1e-4", "3e-4"}}}));
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 6u);
  const std::vector<std::pair<int, double>> want = {{4, 1e-4}, {4, 3e-4}, {8, 1e-4}, {8, 3e-4}, {16, 1e-4}, {16, 3e-4}};
  for (size_t i = 0; i < want.size(); ++i) {
    const SweepGridPoint& point = (*points)[i];
    EXPECT_EQ(point.spec.method().lora().rank(), want[i].first) << i;
    EXPECT_DOUBLE_EQ(point.spec.hyperparameters().learning_rate(), want[i].second) << i;
    EXPECT_EQ(point.spec.model().path(), "/models/tiny") << "the base is kept";
  }
  EXPECT_THAT((*points)[3].values, ElementsAre("8", "3e-4"));
}

TEST(ExpandSweepGrid, AnUnknownAxisPathIsNamed) {
  auto points = ExpandSweepGrid(Base(), Axes({{"method.lora.rnak", {"4"}}}));
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(points.status().message(), HasSubstr("method.lora.rnak"));
}

TEST(ExpandSweepGrid, AValueTheFieldRefusesIsNamedWithItsAxis) {
  auto points = ExpandSweepGrid(Base(), Axes({{"hyperparameters.learning_rate", {"1e-4", "fast"}}}));
  ASSERT_FALSE(points.ok());
  EXPECT_THAT(points.status().message(), HasSubstr("hyperparameters.learning_rate"));
  EXPECT_THAT(points.status().message(), HasSubstr("\"fast\""));
}

TEST(ExpandSweepGrid, APointTheValidationRefusesIsNamedWithItsValues) {
  auto points = ExpandSweepGrid(Base(), Axes({{"method.lora.rank", {"4", "100000"}}}));
  ASSERT_FALSE(points.ok());
  EXPECT_THAT(points.status().message(), HasSubstr("point 1 (method.lora.rank=100000)"));
}

TEST(ExpandSweepGrid, TheSameFieldTwiceIsRefusedInEitherSpelling) {
  auto same = ExpandSweepGrid(Base(), Axes({{"method.lora.rank", {"4"}}, {"method.lora.rank", {"8"}}}));
  ASSERT_FALSE(same.ok());
  EXPECT_THAT(same.status().message(), HasSubstr("the same field as axes[0]"));
  auto spelled = ExpandSweepGrid(Base(), Axes({{"hyperparameters.learning_rate", {"1e-4"}},
                                               {"hyperparameters.learningRate", {"3e-4"}}}));
  ASSERT_FALSE(spelled.ok());
  EXPECT_THAT(spelled.status().message(), HasSubstr("the same field"));
}

TEST(ExpandSweepGrid, ARepeatedValueIsRefused) {
  auto points = ExpandSweepGrid(Base(), Axes({{"method.lora.rank", {"4", "4"}}}));
  ASSERT_FALSE(points.ok());
  EXPECT_THAT(points.status().message(), HasSubstr("\"4\" is given twice"));
}

TEST(ExpandSweepGrid, TooManyPointsOrAxesAreRefused) {
  std::vector<std::string> ranks, rates;
  for (int i = 1; i <= 17; ++i) ranks.push_back(std::to_string(i));
  for (int i = 1; i <= 16; ++i) rates.push_back("1e-" + std::to_string(i));
  auto big = ExpandSweepGrid(Base(), Axes({{"method.lora.rank", ranks}, {"hyperparameters.learning_rate", rates}}));
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("more than 256 points"));
  ranks.pop_back();  // 16 x 16 = 256: the bound itself is allowed
  EXPECT_TRUE(ExpandSweepGrid(Base(), Axes({{"method.lora.rank", ranks}, {"hyperparameters.learning_rate", rates}}))
                  .ok());

  std::vector<std::pair<std::string, std::vector<std::string>>> nine;
  for (const char* path : {"method.lora.rank", "method.lora.alpha", "method.lora.dropout", "hyperparameters.learning_rate",
                           "hyperparameters.weight_decay", "hyperparameters.max_steps", "hyperparameters.warmup_steps",
                           "hyperparameters.max_grad_norm", "priority"}) {
    nine.push_back({path, {"1"}});
  }
  auto wide = ExpandSweepGrid(Base(), Axes(nine));
  ASSERT_FALSE(wide.ok());
  EXPECT_THAT(wide.status().message(), HasSubstr("9 axes; at most 8"));
}

TEST(ExpandSweepGrid, NoAxisOrAnEmptyOneIsRefused) {
  EXPECT_THAT(ExpandSweepGrid(Base(), Axes({})).status().message(), HasSubstr("at least one axis"));
  EXPECT_THAT(ExpandSweepGrid(Base(), Axes({{"method.lora.rank", {}}})).status().message(), HasSubstr("no values"));
  EXPECT_THAT(ExpandSweepGrid(Base(), Axes({{"", {"1"}}})).status().message(), HasSubstr("path is empty"));
}

TEST(ExpandSweepGrid, PointsMayNotShareAnExplicitExportDirectory) {
  v1::JobSpec base = Base();
  base.mutable_export_()->set_directory("/exports/one");
  auto points = ExpandSweepGrid(base, Axes({{"method.lora.rank", {"4", "8"}}}));
  ASSERT_FALSE(points.ok());
  EXPECT_THAT(points.status().message(), HasSubstr("export.directory: points 0 and 1"));
  EXPECT_TRUE(ExpandSweepGrid(base, Axes({{"export.directory", {"/exports/a", "/exports/b"}}})).ok());
}

TEST(ParseSweepAxis, SplitsAtTopLevelCommasOnly) {
  auto axis = ParseSweepAxis("method.lora.target_modules=[q_proj,v_proj],[q_proj], \"a,b\"");
  ASSERT_TRUE(axis.ok()) << axis.status();
  EXPECT_EQ(axis->path(), "method.lora.target_modules");
  EXPECT_THAT(axis->values(), ElementsAre("[q_proj,v_proj]", "[q_proj]", "\"a,b\""));
}

TEST(ParseSweepAxis, MalformedAxesAreNamed) {
  EXPECT_THAT(ParseSweepAxis("method.lora.rank").status().message(), HasSubstr("want path=value"));
  EXPECT_THAT(ParseSweepAxis("=4,8").status().message(), HasSubstr("want path=value"));
  EXPECT_THAT(ParseSweepAxis("method.lora.rank=4,,8").status().message(), HasSubstr("an empty value"));
  EXPECT_THAT(ParseSweepAxis("method.lora.rank=").status().message(), HasSubstr("an empty value"));
  EXPECT_THAT(ParseSweepAxis("x=[1,2").status().message(), HasSubstr("unclosed"));
  EXPECT_THAT(ParseSweepAxis("x=1]").status().message(), HasSubstr("unbalanced"));
  EXPECT_THAT(ParseSweepAxis(std::string(sweep_limits::kMaxGridTextBytes + 1, 'a')).status().message(),
              HasSubstr("at most"));
}

TEST(ResolveSweepAxisPaths, RelativePathValuesBecomeAbsoluteAndOthersStay) {
  v1::SweepAxis data;
  data.set_path("dataset.path");
  data.add_values("a.jsonl");
  data.add_values("/abs/b.jsonl");
  ASSERT_TRUE(ResolveSweepAxisPaths(data, "/specs").ok());
  EXPECT_THAT(data.values(), ElementsAre("/specs/a.jsonl", "/abs/b.jsonl"));
  v1::SweepAxis rank;
  rank.set_path("method.lora.rank");
  rank.add_values("4");
  ASSERT_TRUE(ResolveSweepAxisPaths(rank, "/specs").ok());
  EXPECT_THAT(rank.values(), ElementsAre("4"));
}

}  // namespace
}  // namespace tunefleet
