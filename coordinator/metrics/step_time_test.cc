// A job's step time by phase: folded from rank 0's "step" samples, exported
// as tunefleet_job_step_seconds{job,phase} while the job runs, gone with the
// job's other series when it ends.

#include "coordinator/metrics/step_time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "common/metric_keys.h"
#include "coordinator/core/control_plane.h"
#include "coordinator/metrics/coordinator_metrics.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator {
namespace {

v1::MetricSample StepSample(const std::map<std::string, double>& values) {
  v1::MetricSample sample;
  sample.set_event(metric_keys::kStepEvent);
  sample.set_step(4);
  for (const auto& [k, v] : values) (*sample.mutable_values())[k] = v;
  return sample;
}

TEST(StepTimeTest, TakesEachPhaseOfAStepLineAndDropsBadValues) {
  StepTime time;
  AddStepTime(StepSample({{metric_keys::kStepComputeSeconds, 1.5},
                          {metric_keys::kStepCommSeconds, 0.25},
                          {metric_keys::kStepDataSeconds, 0.01},
                          {metric_keys::kStepOtherSeconds, 0.1},
                          {metric_keys::kStepCommOverlap, 0.8}}),
              time);
  EXPECT_THAT(time.seconds, ::testing::ElementsAre(::testing::Pair("comm", 0.25), ::testing::Pair("compute", 1.5),
                                                   ::testing::Pair("data", 0.01), ::testing::Pair("other", 0.1)));
  EXPECT_EQ(time.comm_overlap, 0.8);
  // A negative, infinite or NaN time, or an overlap outside [0, 1]: the last good value stays.
  AddStepTime(StepSample({{metric_keys::kStepComputeSeconds, -1},
                          {metric_keys::kStepCommSeconds, std::numeric_limits<double>::infinity()},
                          {metric_keys::kStepDataSeconds, std::nan("")},
                          {metric_keys::kStepOtherSeconds, 0.2},
                          {metric_keys::kStepCommOverlap, 1.5}}),
              time);
  EXPECT_EQ(time.seconds.at("compute"), 1.5);
  EXPECT_EQ(time.seconds.at("comm"), 0.25);
  EXPECT_EQ(time.seconds.at("data"), 0.01);
  EXPECT_EQ(time.seconds.at("other"), 0.2);
  EXPECT_EQ(time.comm_overlap, 0.8);
  // Other events' fields of the same names are not steps'.
  v1::MetricSample eval = StepSample({{metric_keys::kStepComputeSeconds, 9}});
  eval.set_event(metric_keys::kEvalEvent);
  AddStepTime(eval, time);
  EXPECT_EQ(time.seconds.at("compute"), 1.5);
  const v1::StepTimeSplit split = ToStepTimeSplit(time);
  EXPECT_EQ(split.compute_seconds(), 1.5);
  EXPECT_EQ(split.other_seconds(), 0.2);
  EXPECT_EQ(split.comm_overlap(), 0.8);
  EXPECT_FALSE(ToStepTimeSplit(StepTime{}).has_comm_overlap()) << "a single-rank job has no overlap";
}

// label value of `name` -> sample value, for the family `family` in `families`.
std::map<std::string, double> Series(const std::vector<prometheus::MetricFamily>& families, const std::string& family,
                                     const std::string& label) {
  std::map<std::string, double> out;
  for (const auto& f : families) {
    if (f.name != family) continue;
    for (const auto& metric : f.metric) {
      std::string key;
      for (const auto& l : metric.label) {
        if (l.name == label) key = l.value;
      }
      out[key] = metric.gauge.value;
    }
  }
  return out;
}

TEST(StepTimeTest, ExportedByPhaseWhileTheJobRunsAndRemovedWhenItEnds) {
  auto store = store::OpenSqliteStore(tunefleet::testing::FreshTestDirectory() + "/state.db");
  ASSERT_TRUE(store.ok()) << store.status();
  auto plane = ControlPlane::Create(std::move(*store), ControlPlaneOptions{});
  ASSERT_TRUE(plane.ok()) << plane.status();
  v1::RegisterWorkerRequest registration;
  registration.set_worker_id("w");
  registration.mutable_resources()->set_cpu_slots(1);
  auto registered = (*plane)->RegisterWorker(registration);
  ASSERT_TRUE(registered.ok()) << registered.status();
  v1::CreateJobRequest create;
  create.mutable_spec()->mutable_model()->set_path("/m");
  create.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
  create.mutable_spec()->mutable_resources()->set_world_size(1);
  auto job = (*plane)->CreateJob(create);
  ASSERT_TRUE(job.ok()) << job.status();
  (*plane)->Tick();
  *job = *(*plane)->GetJob(job->name());
  ASSERT_EQ(job->state(), v1::JOB_STATE_RUNNING);

  CoordinatorMetrics metrics;
  metrics.Attach(plane->get());
  EXPECT_TRUE(Series(metrics.Collect(), "tunefleet_job_step_seconds", "phase").empty()) << "no step yet";

  v1::ReportMetricsRequest report;
  report.set_worker_id("w");
  report.set_session(registered->session());
  report.set_generation(job->generation());
  v1::MetricSample* sample = report.add_samples();
  *sample = StepSample({{metric_keys::kStepComputeSeconds, 1.5},
                        {metric_keys::kStepCommSeconds, 0.25},
                        {metric_keys::kStepDataSeconds, 0.01},
                        {metric_keys::kStepOtherSeconds, 0.1},
                        {metric_keys::kStepCommOverlap, 0.75}});
  sample->set_job(job->name());
  ASSERT_TRUE((*plane)->ReportMetrics(report).ok());
  const auto families = metrics.Collect();
  EXPECT_THAT(Series(families, "tunefleet_job_step_seconds", "phase"),
              ::testing::ElementsAre(::testing::Pair("comm", 0.25), ::testing::Pair("compute", 1.5),
                                     ::testing::Pair("data", 0.01), ::testing::Pair("other", 0.1)));
  const std::string id = job->name().substr(5);  // "jobs/<id>"
  EXPECT_THAT(Series(families, "tunefleet_job_step_seconds", "job"),
              ::testing::ElementsAre(::testing::Pair(id, ::testing::_)));
  EXPECT_THAT(Series(families, "tunefleet_job_step_comm_overlap_ratio", "job"),
              ::testing::ElementsAre(::testing::Pair(id, 0.75)));
  // The same figures in the job's progress (`tunefleet get`).
  const v1::StepTimeSplit split = (*plane)->GetJob(job->name())->progress().step_time();
  EXPECT_EQ(split.compute_seconds(), 1.5);
  EXPECT_EQ(split.comm_seconds(), 0.25);
  EXPECT_EQ(split.data_seconds(), 0.01);
  EXPECT_EQ(split.other_seconds(), 0.1);
  ASSERT_TRUE(split.has_comm_overlap());
  EXPECT_EQ(split.comm_overlap(), 0.75);

  // The job ends: its series go with it.
  v1::HeartbeatRequest beat;
  beat.set_worker_id("w");
  beat.set_session(registered->session());
  v1::RankStatus* rank = beat.add_ranks();
  rank->set_job(job->name());
  rank->set_generation(job->generation());
  rank->set_rank(0);
  rank->set_phase(v1::RANK_PHASE_SUCCEEDED);
  ASSERT_TRUE((*plane)->Heartbeat(beat).ok());
  ASSERT_EQ((*plane)->GetJob(job->name())->state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_TRUE(Series(metrics.Collect(), "tunefleet_job_step_seconds", "phase").empty());
  EXPECT_TRUE(Series(metrics.Collect(), "tunefleet_job_step_comm_overlap_ratio", "job").empty());
}

}  // namespace
}  // namespace tunefleet::coordinator
