// A job judged by its data, end to end through the trainer binary: the
// after-training A/B evaluation (evaluation.after_training), early stopping
// on the validation loss (evaluation.early_stopping_patience) and keeping,
// then exporting, the best checkpoint (checkpoint.keep_best).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/e2e/demo_data_test.h"
#include "tests/testing/child_process.h"
#include "tests/testing/weight_diff.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;

const std::string& kTrainer = testing::kTrainerBinary;
const std::string& kDemo = testing::kDemoDir;

class TrainerEvaluationE2eTest : public testing::DemoDataTest {
 protected:

  // The demo fine-tuning job on the generated data, with `sets` on top.
  std::vector<std::string> Train(const std::string& job, const std::vector<std::string>& sets) const {
    std::vector<std::string> args = {kTrainer, "train", "--spec", kDemo + "/finetune.yaml", "--job-id", job,
                                     "--metrics-out", dir_ + "/" + job + ".metrics.jsonl",
                                     "--set", "dataset.path=" + dir_ + "/data/train.jsonl",
                                     "--set", "dataset.validation_path=" + dir_ + "/data/validation.jsonl",
                                     "--set", "evaluation.max_batches=2",
                                     "--set", "export.directory=" + dir_ + "/" + job + "/export"};
    for (const std::string& set : sets) {
      args.push_back("--set");
      args.push_back(set);
    }
    return args;
  }

  // The metrics stream's lines of one event.
  std::vector<nlohmann::json> Events(const std::string& job, const std::string& event) const {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_ + "/" + job + ".metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      nlohmann::json parsed = nlohmann::json::parse(line);
      if (parsed["event"] == event) out.push_back(parsed);
    }
    return out;
  }
};

TEST_F(TrainerEvaluationE2eTest, TheJobComparesTheTrainedModelWithItsBaseAfterTraining) {
  {  // six held-out requests in two tasks
    std::ifstream in(dir_ + "/data/test.jsonl");
    std::ofstream out(dir_ + "/heldout.jsonl");
    std::string line;
    for (int i = 0; i < 6 && std::getline(in, line); ++i) {
      nlohmann::json record = nlohmann::json::parse(line);
      record["task"] = i % 2 == 0 ? "even" : "odd";
      out << record.dump() << "\n";
    }
  }
  auto train = RunCommand(Train("ab", {"method.type=lora", "method.lora.rank=4", "hyperparameters.max_steps=3",
                                       "evaluation.after_training.data_path=" + dir_ + "/heldout.jsonl",
                                       "evaluation.after_training.max_new_tokens=3",
                                       "evaluation.after_training.bootstrap_resamples=200"}));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("A/B evaluation on " + dir_ + "/heldout.jsonl, 6 examples"), std::string::npos)
      << train.output;

  // The export holds the whole report; the metrics stream carries it to the coordinator.
  std::ifstream file(dir_ + "/ab/export/tunefleet_evaluation.json");
  ASSERT_TRUE(file.good());
  const nlohmann::json report = nlohmann::json::parse(file);
  std::map<std::string, nlohmann::json> rows;
  for (const auto& row : report["rows"]) rows[row["task"].get<std::string>() + "/" + row["metric"].get<std::string>()] = row;
  ASSERT_EQ(rows.count("(all tasks)/exact match"), 1u) << report.dump(2);
  // Proto JSON: 64-bit integers are strings.
  EXPECT_EQ(rows["(all tasks)/exact match"]["n"], "6");
  EXPECT_EQ(rows["even/exact match"]["n"], "3");
  const nlohmann::json& loss = rows["(all tasks)/answer loss (nats/token)"];
  // Three LoRA steps move the answers' loss away from the base's.
  EXPECT_NE(loss.value("difference", 0.0), 0.0) << report.dump(2);
  EXPECT_LE(loss.value("ciLow", 0.0), loss.value("difference", 0.0));
  EXPECT_GE(loss.value("ciHigh", 0.0), loss.value("difference", 0.0));
  EXPECT_EQ(report["baseline"], kDemo + "/base_model");
  // The first examples the two answer differently, with what was expected.
  const int differing =
      report.contains("differingExamples") ? std::stoi(report["differingExamples"].get<std::string>()) : 0;
  const size_t shown = report.contains("differing") ? report["differing"].size() : 0;
  EXPECT_EQ(static_cast<int>(shown), std::min(differing, 8));

  const auto events = Events("ab", "evaluation");
  ASSERT_EQ(events.size(), 1u);
  const nlohmann::json sent = nlohmann::json::parse(events[0]["evaluation"].get<std::string>());
  EXPECT_EQ(sent["rows"].size(), report["rows"].size());
  // "done" comes after the evaluation: the job ends once it is reported.
  EXPECT_EQ(Events("ab", "done").size(), 1u);
}

// A multi-task job: each held-out example is prompted as its task was
// trained (chat for "sums", raw text for "notes"), and the report keeps
// both tasks' rows and the examples' order.
TEST_F(TrainerEvaluationE2eTest, AMultiTaskJobIsEvaluatedTaskByTask) {
  {
    std::ofstream notes(dir_ + "/notes.jsonl");
    for (int i = 0; i < 60; ++i) {
      notes << nlohmann::json{{"text", "note " + std::to_string(i) + " says " + std::to_string(i * 7 % 13) + " apples."}}
                   .dump()
            << "\n";
    }
    std::ifstream in(dir_ + "/data/test.jsonl");
    std::ofstream out(dir_ + "/heldout.jsonl");
    std::string line;
    for (int i = 0; i < 3 && std::getline(in, line); ++i) {
      nlohmann::json record = nlohmann::json::parse(line);
      record["task"] = "sums";
      out << record.dump() << "\n";
      out << nlohmann::json{{"prompt", "note " + std::to_string(i) + " says"},
                            {"completion", " " + std::to_string(i * 7 % 13) + " apples."},
                            {"task", "notes"}}
                 .dump()
          << "\n";
    }
  }
  std::ofstream(dir_ + "/multitask.yaml") << "model: {path: " << kDemo << "/base_model}\n"
      << "dataset:\n  tasks:\n"
      << "    - {name: sums, path: " << dir_ << "/data/train.jsonl, validation_path: " << dir_
      << "/data/validation.jsonl, format: chat}\n"
      << "    - {name: notes, path: " << dir_ << "/notes.jsonl, validation_fraction: 0.2, format: text}\n"
      << "hyperparameters: {max_steps: 2, micro_batch_size: 8, global_batch_size: 8, sequence_length: 128,"
      << " learning_rate: 2e-3}\n"
      << "evaluation: {after_training: {data_path: " << dir_ << "/heldout.jsonl, max_new_tokens: 4,"
      << " bootstrap_resamples: 200}}\n"
      << "export: {directory: " << dir_ << "/multitask/export}\n";
  auto train = RunCommand({kTrainer, "train", "--spec", dir_ + "/multitask.yaml"});
  ASSERT_EQ(train.exit_code, 0) << train.output;
  std::ifstream file(dir_ + "/multitask/export/tunefleet_evaluation.json");
  ASSERT_TRUE(file.good()) << train.output;
  const nlohmann::json report = nlohmann::json::parse(file);
  std::map<std::string, std::string> n;
  for (const auto& row : report["rows"]) {
    if (row["metric"] == "exact match") n[row["task"].get<std::string>()] = row["n"].get<std::string>();
  }
  EXPECT_EQ(n["sums"], "3") << report.dump(2);
  EXPECT_EQ(n["notes"], "3") << report.dump(2);
  EXPECT_EQ(n["(all tasks)"], "6") << report.dump(2);
  for (const auto& example : report.value("differing", nlohmann::json::array())) {
    const std::string prompt = example["prompt"];
    EXPECT_EQ(example["task"], prompt.rfind("note ", 0) == 0 ? "notes" : "sums") << example.dump();
  }
}

TEST_F(TrainerEvaluationE2eTest, AMissingEvaluationFileFailsTheJobBeforeTraining) {
  auto train = RunCommand(Train("missing", {"hyperparameters.max_steps=50",
                                            "evaluation.after_training.data_path=" + dir_ + "/no-such.jsonl"}));
  EXPECT_NE(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("evaluation.after_training.data_path"), std::string::npos) << train.output;
  EXPECT_EQ(train.output.find("step 1/"), std::string::npos) << train.output;
}

// With min_delta far above any change of the loss, only the first
// evaluation is a best: patience 2 ends the run at the third.
TEST_F(TrainerEvaluationE2eTest, EarlyStoppingEndsTheRunAndAResumeDoesNotTrainOn) {
  const auto args = Train("early", {"hyperparameters.max_steps=20", "evaluation.interval_steps=2",
                                    "evaluation.early_stopping_patience=2", "evaluation.early_stopping_min_delta=1000",
                                    "checkpoint.directory=" + dir_ + "/checkpoints"});
  auto first = RunCommand(args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("early stopping after step 6: 2 evaluations without a validation loss below"),
            std::string::npos)
      << first.output;
  EXPECT_EQ(first.output.find("step 7/"), std::string::npos) << first.output;
  EXPECT_TRUE(fs::exists(dir_ + "/checkpoints/early/step-00000006/manifest.json"));
  EXPECT_TRUE(fs::exists(dir_ + "/early/export/model.safetensors"));
  const auto stops = Events("early", "early_stop");
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0]["step"].get<int>(), 6);
  EXPECT_EQ(stops[0]["best_step"].get<double>(), 2.0);

  // Again (as after a crash in the export): it resumes where it stopped and
  // exports without training another step.
  auto again = RunCommand(args);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("resumed from"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("early stopping after step 6"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("step 7/"), std::string::npos) << again.output;
}

// keep_best: the best checkpoint (the first evaluation's, as above) outlives
// keep_last 1 and is what the export holds. With a constant rate, its
// weights are exactly those of a run that stops at that step.
TEST_F(TrainerEvaluationE2eTest, KeepBestKeepsAndExportsTheBestCheckpoint) {
  const std::vector<std::string> constant = {"hyperparameters.lr_schedule=constant", "hyperparameters.warmup_steps=0"};
  auto sets = constant;
  for (const char* s : {"hyperparameters.max_steps=6", "evaluation.interval_steps=2", "evaluation.early_stopping_min_delta=1000",
                        "checkpoint.keep_best=true", "checkpoint.keep_last=1"}) {
    sets.push_back(s);
  }
  sets.push_back("checkpoint.directory=" + dir_ + "/checkpoints");
  auto best = RunCommand(Train("best", sets));
  ASSERT_EQ(best.exit_code, 0) << best.output;
  EXPECT_NE(best.output.find("exporting the best checkpoint: step 2"), std::string::npos) << best.output;
  EXPECT_TRUE(fs::exists(dir_ + "/checkpoints/best/step-00000002/manifest.json"));
  EXPECT_TRUE(fs::exists(dir_ + "/checkpoints/best/step-00000006/manifest.json"));
  EXPECT_FALSE(fs::exists(dir_ + "/checkpoints/best/step-00000004"));

  auto short_sets = constant;
  short_sets.push_back("hyperparameters.max_steps=2");
  auto two = RunCommand(Train("two", short_sets));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(testing::MaxWeightDiff(dir_ + "/best/export/model.safetensors", dir_ + "/two/export/model.safetensors"),
            0.0);
}

TEST_F(TrainerEvaluationE2eTest, EarlyStoppingWithoutValidationDataIsRefusedNamingTheField) {
  auto train = RunCommand(Train("refused", {"dataset.validation_path=", "evaluation.interval_steps=2",
                                            "evaluation.early_stopping_patience=2"}));
  EXPECT_NE(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("evaluation.early_stopping_patience: needs validation data"), std::string::npos)
      << train.output;
}

}  // namespace
}  // namespace tunefleet
