// The trainer binary as a user runs it: fine-tune the bundled base model on
// generated demo data, export, evaluate the export; and the errors a user
// sees for a bad spec or damaged weights.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/e2e/demo_data_test.h"
#include "tests/testing/child_process.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;

const std::string& kTrainer = testing::kTrainerBinary;
const std::string& kDemo = testing::kDemoDir;
const std::string& kCli = testing::kCliBinary;

using TrainerE2eTest = testing::DemoDataTest;

TEST_F(TrainerE2eTest, FineTunesExportsAndEvaluates) {
  auto train = RunCommand({kTrainer, "train", "--spec", kDemo + "/finetune.yaml",           //
                    "--set", "dataset.path=" + dir_ + "/data/train.jsonl",            //
                    "--set", "dataset.validation_path=" + dir_ + "/data/validation.jsonl",
                    "--set", "hyperparameters.max_steps=6",                           //
                    "--set", "evaluation.interval_steps=3",                           //
                    "--set", "export.directory=" + dir_ + "/export",                  //
                    "--metrics-out", dir_ + "/metrics.jsonl"});
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("step 6/6"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("eval loss"), std::string::npos) << train.output;
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.json"}) {
    EXPECT_TRUE(fs::exists(dir_ + "/export/" + file)) << file;
  }
  std::ifstream metrics(dir_ + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) lines += line.find("\"train_loss\"") != std::string::npos;
  EXPECT_EQ(lines, 6);

  auto eval = RunCommand({kTrainer, "evaluate", "--model", dir_ + "/export", "--data", dir_ + "/data/test.jsonl",
                   "--limit", "5", "--max-new-tokens", "4"});
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("exact match: "), std::string::npos) << eval.output;
  EXPECT_NE(eval.output.find("/5 = "), std::string::npos) << eval.output;
}

TEST_F(TrainerE2eTest, LoraRunExportsAPeftAdapter) {
  auto train = RunCommand({kTrainer, "train", "--spec", kDemo + "/finetune.yaml",  //
                    "--set", "dataset.path=" + dir_ + "/data/train.jsonl",   //
                    "--set", "dataset.validation_path=",                     //
                    "--set", "method.type=lora",                             //
                    "--set", "method.lora.rank=4",                           //
                    "--set", "hyperparameters.max_steps=2",                  //
                    "--set", "export.directory=" + dir_ + "/adapter"});
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_TRUE(fs::exists(dir_ + "/adapter/adapter_config.json"));
  EXPECT_TRUE(fs::exists(dir_ + "/adapter/adapter_model.safetensors"));
  auto eval = RunCommand({kTrainer, "evaluate", "--model", kDemo + "/base_model", "--adapter", dir_ + "/adapter", "--data",
                   dir_ + "/data/test.jsonl", "--limit", "2", "--max-new-tokens", "2"});
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
}

// `tunefleet eval` (the trainer's `compare`): per task and over all, the
// paired difference and its interval; a model against itself differs by
// exactly nothing, a trained adapter against its base by something.
TEST_F(TrainerE2eTest, TunefleetEvalComparesACandidateWithItsBaselinePerTask) {
  {
    std::ifstream in(dir_ + "/data/test.jsonl");
    std::ofstream out(dir_ + "/tasks.jsonl");
    std::string line;
    for (int i = 0; i < 6 && std::getline(in, line); ++i) {
      nlohmann::json record = nlohmann::json::parse(line);
      record["task"] = i % 2 == 0 ? "even" : "odd";
      out << record.dump() << "\n";
    }
  }
  auto train = RunCommand({kTrainer, "train", "--spec", kDemo + "/finetune.yaml",  //
                           "--set", "dataset.path=" + dir_ + "/data/train.jsonl",  //
                           "--set", "dataset.validation_path=",                    //
                           "--set", "method.type=lora",                            //
                           "--set", "hyperparameters.max_steps=3",                 //
                           "--set", "export.directory=" + dir_ + "/adapter"});
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::vector<std::string> common = {"--data", dir_ + "/tasks.jsonl", "--chat-template", "none",
                                           "--max-new-tokens", "3", "--resamples", "200", "-o", "json"};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {kCli, "eval", "--baseline-model", kDemo + "/base_model"});
    args.insert(args.end(), common.begin(), common.end());
    return RunCommand(args);
  };
  const auto rows_of = [](const std::string& output) {
    const nlohmann::json report = nlohmann::json::parse(output.substr(output.find('{')));
    std::map<std::string, nlohmann::json> rows;
    for (const auto& row : report["rows"]) rows[row["task"].get<std::string>() + "/" + row["metric"].get<std::string>()] = row;
    return rows;
  };

  auto same = run({});
  ASSERT_EQ(same.exit_code, 0) << same.output;
  auto rows = rows_of(same.output);
  for (const char* key : {"even/exact match", "odd/exact match", "(all tasks)/exact match", "even/answer loss (nats/token)",
                          "(all tasks)/answer loss (nats/token)"}) {
    ASSERT_EQ(rows.count(key), 1u) << key << "\n" << same.output;
    EXPECT_EQ(rows[key]["difference"].get<double>(), 0.0) << key;
    EXPECT_EQ(rows[key]["ci_low"].get<double>(), 0.0) << key;
    EXPECT_EQ(rows[key]["ci_high"].get<double>(), 0.0) << key;
  }
  EXPECT_EQ(rows["even/exact match"]["n"].get<int>(), 3);
  EXPECT_EQ(rows["(all tasks)/exact match"]["n"].get<int>(), 6);

  auto tuned = run({"--candidate-adapter", dir_ + "/adapter"});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  rows = rows_of(tuned.output);
  const nlohmann::json& loss = rows["(all tasks)/answer loss (nats/token)"];
  EXPECT_NE(loss["difference"].get<double>(), 0.0) << tuned.output;
  EXPECT_LE(loss["ci_low"].get<double>(), loss["difference"].get<double>());
  EXPECT_GE(loss["ci_high"].get<double>(), loss["difference"].get<double>());

  auto missing = run({"--candidate-adapter", dir_ + "/no-such-adapter"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("candidate: "), std::string::npos) << missing.output;
}

// Lineage: the export says what made it (`tunefleet lineage`), and a job
// whose data changed between attempts stops instead of resuming on it.
TEST_F(TrainerE2eTest, TheExportRecordsItsLineageAndChangedDataRefusesResume) {
  const std::string data = dir_ + "/data/train.jsonl";
  const std::vector<std::string> spec = {kTrainer, "train", "--spec", kDemo + "/finetune.yaml", "--job-id", "lineage",
                                         "--set", "dataset.path=" + data, "--set", "dataset.validation_path=",
                                         "--set", "checkpoint.directory=" + dir_ + "/checkpoints",
                                         "--set", "export.directory=" + dir_ + "/export"};
  auto with = [&](std::vector<std::string> args, const std::string& extra) {
    args.push_back("--set");
    args.push_back(extra);
    return args;
  };
  auto first = RunCommand(with(spec, "hyperparameters.max_steps=2"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("lineage: "), std::string::npos) << first.output;

  auto shown = RunCommand({kCli, "lineage", dir_ + "/export", "-o", "json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  const nlohmann::json lineage = nlohmann::json::parse(shown.output.substr(shown.output.find('{')));
  auto sum = RunCommand({"/usr/bin/sha256sum", data});
  ASSERT_EQ(sum.exit_code, 0) << sum.output;
  bool found = false;
  for (const auto& input : lineage["inputs"]) {
    if (input["role"] == "dataset") {
      found = true;
      EXPECT_EQ(input["path"], data);
      EXPECT_EQ(input["sha256"].get<std::string>(), sum.output.substr(0, 64));
    }
  }
  EXPECT_TRUE(found) << shown.output;
  auto step = RunCommand({kCli, "lineage", dir_ + "/checkpoints/lineage/step-00000002"});
  EXPECT_EQ(step.exit_code, 0) << step.output;
  EXPECT_NE(step.output.find("dataset"), std::string::npos) << step.output;

  {  // the same number of lines, one character different
    std::ifstream in(data);
    std::string text;
    for (std::string line; std::getline(in, line);) text += line + "\n";
    text[text.find('1')] = '2';
    std::ofstream(data, std::ios::trunc) << text;
  }
  auto resumed = RunCommand(with(spec, "hyperparameters.max_steps=4"));
  EXPECT_NE(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("dataset file " + data + " changed since the checkpoint was written"),
            std::string::npos)
      << resumed.output;
}

TEST_F(TrainerE2eTest, BadSpecNamesFileLineAndField) {
  const std::string spec = dir_ + "/bad.yaml";
  std::ofstream(spec) << "model:\n  path: " << kDemo << "/base_model\n"
                      << "hyperparameters:\n  learning_rte: 0.1\n";
  auto train = RunCommand({kTrainer, "train", "--spec", spec});
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.output.find("bad.yaml:4"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("learning_rte"), std::string::npos) << train.output;
}

TEST_F(TrainerE2eTest, MalformedDatasetLineIsNamed) {
  {
    std::ofstream out(dir_ + "/broken.jsonl");
    out << R"({"text": "1 + 2 = 3."})" << "\n" << R"({"text": "unterminated)" << "\n";
  }
  auto train = RunCommand({kTrainer, "train", "--spec", kDemo + "/finetune.yaml",  //
                    "--set", "dataset.path=" + dir_ + "/broken.jsonl",      //
                    "--set", "dataset.format=text",                          //
                    "--set", "dataset.validation_path="});
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.output.find("broken.jsonl:2"), std::string::npos) << train.output;
}

TEST_F(TrainerE2eTest, TruncatedWeightsAreNamedAndNothingIsWritten) {
  fs::copy(kDemo + "/base_model", dir_ + "/model", fs::copy_options::recursive);
  const std::string weights = dir_ + "/model/model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) - 100);
  auto train = RunCommand({kTrainer, "train", "--spec", kDemo + "/finetune.yaml",  //
                    "--set", "model.path=" + dir_ + "/model",               //
                    "--set", "dataset.path=" + dir_ + "/data/train.jsonl",  //
                    "--set", "dataset.validation_path=",                    //
                    "--set", "export.directory=" + dir_ + "/export"});
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.output.find("model.safetensors"), std::string::npos) << train.output;
  EXPECT_FALSE(fs::exists(dir_ + "/export"));
}

}  // namespace
}  // namespace tunefleet
