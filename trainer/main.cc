// tunefleet-trainer: one rank of a fine-tuning job, or the tools around it.
//
//   tunefleet-trainer train --spec job.yaml [--set key=value]... [--metrics-out m.jsonl]
//   tunefleet-trainer evaluate --model DIR [--adapter DIR] --data test.jsonl
//   tunefleet-trainer train-tokenizer --corpus a.jsonl --vocab-size N --out tokenizer.json

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/job_spec_file.h"
#include "common/version.h"
#include "trainer/tools/evaluate_command.h"
#include "trainer/tools/train_tokenizer_command.h"
#include "trainer/train/training_run.h"

namespace {

std::atomic<bool> g_stop_requested{false};

void RequestStop(int) { g_stop_requested.store(true); }

int Fail(const absl::Status& status) {
  std::cerr << "tunefleet-trainer: " << status.message() << "\n";
  return 1;
}

int Train(const std::string& spec_path, const std::vector<std::string>& overrides, const std::string& metrics_out) {
  auto spec = tunefleet::LoadJobSpecFile(spec_path);
  if (!spec.ok()) return Fail(spec.status());
  for (const std::string& assignment : overrides) {
    if (auto s = tunefleet::ApplyJobSpecOverride(*spec, assignment); !s.ok()) return Fail(s);
  }
  tunefleet::ResolveJobSpecPaths(*spec, std::filesystem::absolute(spec_path).parent_path().string());
  std::signal(SIGTERM, RequestStop);
  std::signal(SIGINT, RequestStop);
  tunefleet::RunOptions options;
  options.metrics_out = metrics_out;
  options.stop_requested = &g_stop_requested;
  if (auto s = tunefleet::RunTraining(*spec, options); !s.ok()) return Fail(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-trainer: one rank of a tunefleet fine-tuning job, and its tools"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  app.require_subcommand(1);

  std::string spec_path, metrics_out;
  std::vector<std::string> overrides;
  CLI::App* train = app.add_subcommand("train", "Train per a job spec (YAML or JSON)");
  train->add_option("--spec", spec_path, "Job spec file")->required();
  train->add_option("--set", overrides, "Override a spec field: key.path=value (repeatable)");
  train->add_option("--metrics-out", metrics_out, "Append JSON-lines metrics to this file");

  tunefleet::EvaluateOptions eval_options;
  CLI::App* evaluate = app.add_subcommand("evaluate", "Exact-match accuracy of a model on prompt/completion JSONL");
  tunefleet::AddEvaluateOptions(*evaluate, eval_options);

  tunefleet::TrainTokenizerOptions tokenizer_options;
  CLI::App* train_tokenizer = app.add_subcommand("train-tokenizer", "Train a byte-level BPE tokenizer.json");
  tunefleet::AddTrainTokenizerOptions(*train_tokenizer, tokenizer_options);

  CLI11_PARSE(app, argc, argv);
  try {
    if (train->parsed()) return Train(spec_path, overrides, metrics_out);
    if (evaluate->parsed()) {
      if (auto s = tunefleet::RunEvaluate(eval_options); !s.ok()) return Fail(s);
      return 0;
    }
    if (train_tokenizer->parsed()) {
      if (auto s = tunefleet::RunTrainTokenizer(tokenizer_options); !s.ok()) return Fail(s);
      return 0;
    }
  } catch (const std::exception& e) {  // a last guard: nothing escapes main
    std::cerr << "tunefleet-trainer: internal error: " << e.what() << "\n";
    return 70;
  }
  return 2;
}
