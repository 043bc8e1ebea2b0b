// The CLI's pure parts: tables, durations, the watch line, metrics parsing,
// charts and YAML output.

#include <filesystem>
#include <set>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cli/commands/progress_line.h"
#include "cli/output/resources.h"
#include "cli/output/structured.h"
#include "cli/output/table.h"
#include "cli/plot/bitmap_font.h"
#include "cli/plot/chart.h"
#include "cli/plot/loss_series.h"

namespace tunefleet::cli {
namespace {

using ::testing::HasSubstr;

TEST(Table, PadsColumnsAndTrimsTrailingBlanks) {
  Table table({"NAME", "STATE"});
  table.AddRow({"jobs/a-long-name", "RUNNING"});
  table.AddRow({"jobs/b", ""});
  EXPECT_EQ(table.Render(), "NAME               STATE\njobs/a-long-name   RUNNING\njobs/b\n");
}

TEST(Durations, Compact) {
  EXPECT_EQ(CompactDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(CompactDuration(absl::Seconds(125)), "2m5s");
  EXPECT_EQ(CompactDuration(absl::Hours(2) + absl::Minutes(5)), "2h5m");
  EXPECT_EQ(CompactDuration(absl::Hours(50)), "2d");
  EXPECT_EQ(CompactDuration(-absl::Seconds(3)), "0s");
}

TEST(ProgressLine, StepsLossRateAndEta) {
  ProgressLine line;
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  v1::Job job;
  job.set_state(v1::JOB_STATE_RUNNING);
  line.Update(job, t0);
  EXPECT_EQ(line.Render(), "RUNNING");
  v1::MetricSample sample;
  sample.set_step(10);
  (*sample.mutable_values())["train_loss"] = 1.5;
  (*sample.mutable_values())["total_steps"] = 110;
  (*sample.mutable_values())["tokens_per_second"] = 812.4;
  line.Update(sample, t0);
  sample.set_step(20);
  line.Update(sample, t0 + absl::Seconds(10));  // 1 s per step, 90 to go
  EXPECT_EQ(line.Render(), "RUNNING  step 20/110 (18%)  loss 1.5000  812 tok/s  ETA 1m30s");
  v1::MetricSample other_rank = sample;
  other_rank.set_rank(1);
  (*other_rank.mutable_values())["train_loss"] = 9;
  line.Update(other_rank, t0 + absl::Seconds(11));
  EXPECT_THAT(line.Render(), HasSubstr("loss 1.5000"));
}

TEST(LossSeries, ReadsRankZeroAndSkipsTornLines) {
  const std::string path = ::testing::TempDir() + "/metrics.jsonl";
  std::ofstream(path) << "{\"event\":\"step\",\"rank\":0,\"step\":1,\"train_loss\":2.5}\n"
                         "{\"event\":\"step\",\"rank\":1,\"step\":1,\"train_loss\":9}\n"
                         "{\"event\":\"eval\",\"rank\":0,\"step\":1,\"eval_loss\":2.7}\n"
                         "{\"event\":\"step\",\"rank\":0,\"st";
  absl::StatusOr<LossSeries> series = ReadMetricsFile(path);
  ASSERT_TRUE(series.ok()) << series.status();
  EXPECT_EQ(series->train, (std::map<int64_t, double>{{1, 2.5}}));
  EXPECT_EQ(series->eval, (std::map<int64_t, double>{{1, 2.7}}));
  EXPECT_EQ(ReadMetricsFile(path + ".absent").status().code(), absl::StatusCode::kNotFound);
}

TEST(Chart, SvgHasBothSeriesAndPngIsAPng) {
  LossSeries series;
  series.train = {{1, 2.0}, {2, 1.5}, {3, 1.2}};
  series.eval = {{3, 1.4}};
  const std::string svg = RenderSvg(series, "loss: a<b");
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("stroke=\"#1f77b4\""));
  EXPECT_THAT(svg, HasSubstr("loss: a&lt;b"));
  const std::string png = ::testing::TempDir() + "/loss.png";
  const absl::Status status = WriteChart(series, "t", png);
  if (status.code() == absl::StatusCode::kUnimplemented) GTEST_SKIP() << "built without libpng";
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GT(std::filesystem::file_size(png), 100u);
  EXPECT_EQ(WriteChart(LossSeries{}, "t", png).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(WriteChart(series, "t", png + ".gif").code(), absl::StatusCode::kInvalidArgument);
}

TEST(LossSeries, MultiTaskFieldsMakeOneSeriesPerTask) {
  const std::string path = ::testing::TempDir() + "/tasks.jsonl";
  std::ofstream(path) << "{\"event\":\"step\",\"rank\":0,\"step\":1,\"train_loss\":2.5,"
                         "\"task_train_loss/math\":2.0,\"task_train_loss/chat\":3.0,\"task_tokens/math\":40}\n"
                         "{\"event\":\"step\",\"rank\":0,\"step\":2,\"train_loss\":2.4,\"task_train_loss/math\":1.9}\n"
                         "{\"event\":\"eval\",\"rank\":0,\"step\":2,\"eval_loss\":2.6,\"task_eval_loss/chat\":2.8}\n";
  absl::StatusOr<LossSeries> series = ReadMetricsFile(path);
  ASSERT_TRUE(series.ok()) << series.status();
  EXPECT_EQ(series->task_train.size(), 2u);
  EXPECT_EQ(series->task_train.at("math"), (std::map<int64_t, double>{{1, 2.0}, {2, 1.9}}));
  EXPECT_EQ(series->task_train.at("chat"), (std::map<int64_t, double>{{1, 3.0}}));
  EXPECT_EQ(series->task_eval.at("chat"), (std::map<int64_t, double>{{2, 2.8}}));
  // The same from the coordinator's samples.
  LossSeries streamed;
  v1::MetricSample sample;
  sample.set_step(5);
  (*sample.mutable_values())["task_train_loss/math"] = 1.5;
  streamed.Add(sample);
  EXPECT_EQ(streamed.task_train.at("math"), (std::map<int64_t, double>{{5, 1.5}}));

  const std::string svg = RenderSvg(*series, "tasks");
  EXPECT_THAT(svg, HasSubstr(">math</text>"));
  EXPECT_THAT(svg, HasSubstr(">chat</text>"));
  EXPECT_THAT(svg, HasSubstr("stroke=\"#2ca02c\""));  // the first task's colour (chat, by name)
  EXPECT_THAT(svg, HasSubstr("stroke=\"#9467bd\""));  // the second's (math)
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray"));     // chat's eval loss
}

TEST(JobDetail, AMultiTaskJobListsItsTasks) {
  v1::Job job;
  job.set_name("jobs/j1");
  v1::DatasetTask* spec = job.mutable_spec()->mutable_dataset()->add_tasks();
  spec->set_name("math");
  spec->set_loss_weight(2);
  job.mutable_spec()->mutable_dataset()->add_tasks()->set_name("chat");
  v1::TaskProgress* math = job.mutable_progress()->add_tasks();
  math->set_name("math");
  math->set_train_loss(1.25);
  math->set_eval_loss(1.5);
  math->set_tokens(1200);
  math->set_examples(30);
  math->set_mix_probability(0.625);
  job.mutable_progress()->add_tasks()->set_name("chat");
  const std::string text = JobDetail(job, absl::Now());
  EXPECT_THAT(text, HasSubstr("2 tasks"));
  EXPECT_THAT(text, HasSubstr("TASK"));
  EXPECT_THAT(text, HasSubstr("TRAIN LOSS"));
  EXPECT_THAT(text, ::testing::ContainsRegex("math +0.625 +2 +1.2500 +1.5000 +1200 +30"));
  EXPECT_THAT(text, ::testing::ContainsRegex("chat +- +1 +- +- +0 +0"));
}

// Where a step's time went, as the coordinator folded it from rank 0's step line.
TEST(JobDetail, ShowsTheNewestStepsTimeByPhase) {
  v1::Job job;
  job.set_name("jobs/j1");
  EXPECT_THAT(JobDetail(job, absl::Now()), ::testing::ContainsRegex("Step time: +-\n"));
  v1::StepTimeSplit* split = job.mutable_progress()->mutable_step_time();
  split->set_compute_seconds(0.301);
  split->set_comm_seconds(0.08);
  split->set_data_seconds(0.01);
  split->set_other_seconds(0.021);
  EXPECT_THAT(JobDetail(job, absl::Now()),
              ::testing::ContainsRegex("Step time: +0.412 s: compute 0.301, comm 0.080, data 0.010, other 0.021\n"));
  split->set_comm_overlap(0.35);
  EXPECT_THAT(JobDetail(job, absl::Now()), HasSubstr("other 0.021; comm overlap 35%\n"));
}

// The PNG's labels: every character they use has a glyph of its own (an
// unknown one draws as a hollow box), drawn at the scale asked.
TEST(Chart, BitmapFontCoversThePngLabels) {
  auto pixels = [](const std::string& text, int scale) {
    std::set<std::pair<int, int>> on;
    DrawText(text, 0, 0, scale, [&](int x, int y) { on.insert({x, y}); });
    return on;
  };
  const auto box = pixels("Z", 1);
  EXPECT_EQ(box.size(), 20u);  // the hollow 5x7 box
  EXPECT_EQ(pixels("1", 1).size(), 10u);
  EXPECT_EQ(pixels("1", 2).size(), 40u);
  for (char c : std::string("0123456789.-+e trainlosevp")) {
    EXPECT_NE(pixels(std::string(1, c), 1), box) << "no glyph for '" << c << "'";
  }
  EXPECT_EQ(TextWidth("step", 2), 48);
  EXPECT_EQ(pixels("ss", 1).size(), 2 * pixels("s", 1).size());  // the second glyph does not overlap the first
}

TEST(Structured, YamlIsBlockStyleAndRoundTrips) {
  v1::Job job;
  job.set_name("jobs/x");
  job.mutable_spec()->mutable_model()->set_path("/m");
  const std::string yaml = JsonToYaml(MessageToJson(job));
  EXPECT_THAT(yaml, HasSubstr("name: jobs/x\n"));
  EXPECT_THAT(yaml, HasSubstr("  model:\n    path: /m\n"));
  EXPECT_EQ(YAML::Load(yaml)["spec"]["model"]["path"].as<std::string>(), "/m");
  EXPECT_FALSE(ParseOutputFormat("xml").ok());
}

}  // namespace
}  // namespace tunefleet::cli
