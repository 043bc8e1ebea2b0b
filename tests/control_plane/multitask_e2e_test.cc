// A two-task job through the real binaries (coordinator, worker,
// tunefleet-trainer on CPU, the tunefleet CLI): each task's losses, tokens
// and examples travel from the trainer's metrics stream to the job's
// progress, `tunefleet get` and the coordinator's /metrics, and the dynamic
// mix (inverse_validation_loss) reports its probabilities.

#include <cmath>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"
#include "tests/control_plane/demo_job.h"
#include "tests/testing/http_get.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;

// Both tasks reported with tokens, a validation loss and a mix probability.
bool BothTasksEvaluated(const v1::Job& job) {
  if (job.progress().tasks_size() != 2) return false;
  for (const v1::TaskProgress& task : job.progress().tasks()) {
    if (task.tokens() <= 0 || task.examples() <= 0 || task.eval_loss() <= 0 || task.mix_probability() <= 0) return false;
  }
  return true;
}

TEST(MultiTaskE2e, PerTaskFiguresReachTheJobTheCliAndPrometheus) {
  ClusterOptions options;
  options.trainer = TUNEFLEET_TRAINER_PATH;
  Cluster cluster(options);
  const std::string data = cluster.dir() + "/data";
  auto spec = DemoJobSpec(TUNEFLEET_DEMO_DATA_PATH, data);
  ASSERT_TRUE(spec.ok()) << spec.status();
  {
    std::ofstream notes(data + "/notes.jsonl");
    for (int i = 0; i < 80; ++i) notes << R"({"text": "note )" << i << " says " << i * 7 % 13 << " apples.\"}\n";
  }
  v1::DatasetSpec& dataset = *spec->mutable_dataset();
  dataset.clear_path();
  dataset.clear_validation_path();
  dataset.clear_format();
  v1::DatasetTask* sums = dataset.add_tasks();
  sums->set_name("sums");
  sums->set_path(data + "/train.jsonl");
  sums->set_validation_path(data + "/validation.jsonl");
  sums->set_format(v1::DATASET_FORMAT_CHAT);
  v1::DatasetTask* notes = dataset.add_tasks();
  notes->set_name("notes");
  notes->set_path(data + "/notes.jsonl");
  notes->set_validation_fraction(0.2);
  notes->set_loss_weight(0.5);
  dataset.mutable_mixing()->set_strategy(v1::TASK_MIXING_STRATEGY_INVERSE_VALIDATION_LOSS);
  // Long enough to be seen running (cancelled below); evaluations often, and small.
  spec->mutable_hyperparameters()->set_max_steps(100000);
  spec->mutable_evaluation()->set_interval_steps(2);
  spec->mutable_evaluation()->set_max_batches(1);

  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  v1::CreateJobRequest request;
  *request.mutable_spec() = *spec;
  const std::string name = cluster.Submit(request).name();
  const std::string id = name.substr(5);
  const v1::Job job = cluster.WaitForJob(name, BothTasksEvaluated, std::chrono::minutes(4));
  ASSERT_TRUE(BothTasksEvaluated(job)) << job.DebugString() << cluster.EventLog(name);
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(job.progress().tasks(0).name(), "sums");
  EXPECT_EQ(job.progress().tasks(1).name(), "notes");
  const double mix = job.progress().tasks(0).mix_probability() + job.progress().tasks(1).mix_probability();
  EXPECT_NEAR(mix, 1.0, 1e-6);
  for (const v1::TaskProgress& task : job.progress().tasks()) {
    EXPECT_GE(task.mix_probability(), 0.25 - 1e-9) << task.name() << ": below the default floor 0.5 / tasks";
    EXPECT_TRUE(std::isfinite(task.train_loss()) && task.train_loss() > 0) << task.name();
  }

  // /metrics: a series per task, labelled by job and task.
  const int metrics_port = std::stoi(ReadFile(cluster.dir() + "/coordinator.metrics-port"));
  const std::string scraped = HttpGetLocal(metrics_port);
  for (const std::string task : {"sums", "notes"}) {
    const std::string labels = "{job=\"" + id + "\",task=\"" + task + "\"}";
    for (const std::string family : {"tunefleet_job_task_train_loss", "tunefleet_job_task_eval_loss",
                                     "tunefleet_job_task_tokens_total", "tunefleet_job_task_examples_total",
                                     "tunefleet_job_task_mix_probability"}) {
      EXPECT_THAT(scraped, HasSubstr(family + labels)) << family << " for " << task;
    }
  }

  // `tunefleet get`: the tasks table.
  const RunResult get = RunCommand({TUNEFLEET_CLI_PATH, "--coordinator", "127.0.0.1:" + std::to_string(cluster.port()),
                                    "get", name});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_THAT(get.output, HasSubstr("2 tasks"));
  EXPECT_THAT(get.output, ::testing::ContainsRegex("TASK +MIX +LOSS WEIGHT +TRAIN LOSS +EVAL LOSS +TOKENS +EXAMPLES"));
  EXPECT_THAT(get.output, ::testing::ContainsRegex("sums +0\\.[0-9]+ +1 +[0-9]+\\.[0-9]+"));
  EXPECT_THAT(get.output, ::testing::ContainsRegex("notes +0\\.[0-9]+ +0\\.5 +[0-9]+\\.[0-9]+"));

  // The trainer's log names each task's evaluation.
  const std::string log = ReadFile(cluster.WorkerDir("w1") + "/jobs/" + id + "/attempt-1/rank-0.log");
  EXPECT_THAT(log, HasSubstr("task sums eval loss"));
  EXPECT_THAT(log, HasSubstr("2 tasks"));

  grpc::ClientContext context;
  v1::CancelJobRequest cancel;
  cancel.set_name(name);
  v1::Job cancelled;
  ASSERT_TRUE(cluster.jobs().CancelJob(&context, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::JOB_STATE_CANCELLED);
}

}  // namespace
}  // namespace tunefleet::testing
