// One real fine-tuning job through the control plane: coordinator, worker and
// tunefleet-trainer (libtorch, CPU), a few steps on the bundled demo model.

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"
#include "tests/control_plane/demo_job.h"

namespace tunefleet::testing {
namespace {

TEST(RealTrainerE2e, DemoJobRunsThroughCoordinatorAndWorkerAndExports) {
  ClusterOptions options;
  options.trainer = TUNEFLEET_TRAINER_PATH;
  Cluster cluster(options);
  const std::string data = cluster.dir() + "/data";
  const std::string exported = cluster.dir() + "/export";
  auto spec = DemoJobSpec(TUNEFLEET_DEMO_DATA_PATH, data,
                          {"hyperparameters.max_steps=3", "export.directory=" + exported,
                           // The evaluation stage: its report reaches the job.
                           "evaluation.after_training.data_path=" + data + "/test.jsonl",
                           "evaluation.after_training.max_examples=4", "evaluation.after_training.max_new_tokens=3",
                           "evaluation.after_training.bootstrap_resamples=200"});
  ASSERT_TRUE(spec.ok()) << spec.status();

  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  v1::CreateJobRequest request;
  *request.mutable_spec() = *spec;
  v1::Job job = cluster.WaitForState(cluster.Submit(request).name(), v1::JOB_STATE_SUCCEEDED, std::chrono::minutes(4));
  EXPECT_EQ(job.attempt(), 1);
  EXPECT_EQ(job.progress().step(), 3);
  EXPECT_EQ(job.evaluation().examples(), 4);
  ASSERT_GT(job.evaluation().rows_size(), 0) << job.DebugString();
  EXPECT_EQ(job.evaluation().rows(0).metric(), "exact match");
  EXPECT_TRUE(std::filesystem::exists(exported + "/tunefleet_evaluation.json"));
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json"}) {
    EXPECT_TRUE(std::filesystem::exists(exported + "/" + file)) << file;
  }
  std::ifstream log(cluster.WorkerDir("w1") + "/jobs/" + job.name().substr(5) + "/attempt-1/rank-0.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_THAT(text.str(), ::testing::HasSubstr("step 3/3"));
}

}  // namespace
}  // namespace tunefleet::testing
