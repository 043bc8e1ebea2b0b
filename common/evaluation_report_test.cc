#include "common/evaluation_report.h"

#include <gtest/gtest.h>

#include <string>

namespace tunefleet {
namespace {

v1::JobEvaluation Report(int rows) {
  v1::JobEvaluation e;
  e.set_data_path("/data/heldout.jsonl");
  e.set_examples(100);
  e.set_baseline("base");
  e.set_candidate("tuned");
  e.set_confidence(0.95);
  e.set_differing_examples(40);
  for (int i = 0; i < rows; ++i) {
    v1::JobEvaluation::Row* row = e.add_rows();
    row->set_task(i == rows - 1 ? kAllTasksGroup : "task-" + std::to_string(i));
    row->set_metric(kExactMatchMetric);
    row->set_n(100);
    row->set_baseline(0.25);
    row->set_candidate(0.75);
    row->set_difference(0.5);
    row->set_ci_low(0.4);
    row->set_ci_high(0.6);
  }
  return e;
}

TEST(EvaluationReportTest, RoundTripsThroughCompactJson) {
  const v1::JobEvaluation e = Report(3);
  auto back = EvaluationReportFromJson(EvaluationReportToJson(e, 8192));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), e.SerializeAsString());
  auto file = EvaluationReportFromJson(EvaluationReportToFileJson(e));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->rows_size(), 3);
}

TEST(EvaluationReportTest, DropsRowsFromTheEndToFitTheLimit) {
  const v1::JobEvaluation e = Report(60);
  const std::string full = EvaluationReportToJson(e, 1 << 20);
  const std::string fitted = EvaluationReportToJson(e, 2000);
  EXPECT_GT(full.size(), 2000u);
  EXPECT_LE(fitted.size(), 2000u);
  auto back = EvaluationReportFromJson(fitted);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_GT(back->rows_size(), 0);
  EXPECT_LT(back->rows_size(), 60);
  EXPECT_EQ(back->rows(0).task(), "task-0");
}

TEST(EvaluationReportTest, RefusesWhatNoTrainerWrites) {
  const auto refused = [](const std::string& json, const std::string& why) {
    auto parsed = EvaluationReportFromJson(json);
    ASSERT_FALSE(parsed.ok()) << json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(why), std::string::npos) << parsed.status();
  };
  refused("not json", "not a JobEvaluation");
  refused(R"j({"unknownField": 1})j", "not a JobEvaluation");
  refused(R"j({"examples": "-3"})j", "example counts");
  refused(R"j({"examples": "2", "differingExamples": "3"})j", "example counts");
  refused(R"j({"examples": "5", "rows": [{"metric": "exact match", "n": "9"}]})j", "rows[0].n is 9 of 5");
  refused(R"j({"examples": "5", "rows": [{"metric": "exact match", "n": "5", "baseline": "NaN"}]})j", "non-finite");
  refused(R"j({"examples": "5", "rows": [{"metric": "exact match", "n": "5", "candidate": 1.5}]})j", "outside [0, 1]");
  refused(R"j({"confidence": 1.5})j", "confidence");
  refused("{\"baseline\": \"" + std::string(2000, 'x') + "\"}", "baseline is 2000 bytes");
  std::string many = R"j({"examples": "1", "rows": [)j";
  for (int i = 0; i < kMaxEvaluationRows + 1; ++i) many += std::string(i ? "," : "") + R"j({"metric": "exact match"})j";
  refused(many + "]}", "65 rows");
  // A loss is no rate: any finite value goes.
  EXPECT_TRUE(EvaluationReportFromJson(
                  R"j({"examples": "1", "rows": [{"metric": "answer loss (nats/token)", "n": "1", "baseline": 7.5}]})j")
                  .ok());
}

TEST(EvaluationReportTest, ExamplesAreBoundedAndDroppedFirstToFit) {
  v1::JobEvaluation e = Report(2);
  for (int i = 0; i < 4; ++i) {
    auto* example = e.add_differing();
    example->set_prompt(std::string(200, 'p'));
    example->set_candidate("c");
  }
  const std::string all = EvaluationReportToJson(e, 1 << 20);
  auto fitted = EvaluationReportFromJson(EvaluationReportToJson(e, all.size() - 100));
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->rows_size(), 2);  // rows outlast examples
  EXPECT_LT(fitted->differing_size(), 4);
  e.mutable_differing(0)->set_expected(std::string(kMaxEvaluationExampleBytes + 1, 'x'));
  EXPECT_FALSE(EvaluationReportFromJson(EvaluationReportToJson(e, 1 << 20)).ok());
  e.mutable_differing(0)->clear_expected();
  for (int i = 0; i < kMaxEvaluationExamples; ++i) e.add_differing();
  EXPECT_FALSE(EvaluationReportFromJson(EvaluationReportToJson(e, 1 << 20)).ok());
}

TEST(EvaluationReportTest, TheHeadlineIsExactMatchOverAllTasks) {
  v1::JobEvaluation e = Report(3);
  ASSERT_NE(HeadlineRow(e), nullptr);
  EXPECT_EQ(HeadlineRow(e)->task(), kAllTasksGroup);
  v1::JobEvaluation one = Report(1);
  one.mutable_rows(0)->set_task("all");
  ASSERT_NE(HeadlineRow(one), nullptr);
  EXPECT_EQ(HeadlineRow(one)->task(), "all");
  one.mutable_rows(0)->set_metric(kAnswerLossMetric);
  EXPECT_EQ(HeadlineRow(one), nullptr);
}

}  // namespace
}  // namespace tunefleet
