#pragma once
// `tunefleet-trainer compare` (and `tunefleet eval`): A/B evaluation of a
// candidate model (or base + adapter) against a baseline on the same
// held-out prompt/completion JSONL. Per task (the records' "task" key) and
// over all: exact match, JSON field accuracy where answers are JSON objects,
// and the answer's loss; each as baseline, candidate, the paired difference
// and its bootstrap confidence interval; then a few examples where the two
// disagree. A table, or JSON with -o json.

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "trainer/tools/evaluate_command.h"

namespace tunefleet {

struct CompareOptions {
  EvaluateOptions common;  // data, chat template, system, stop, lengths; its model fields unused
  std::string baseline_model;
  std::string baseline_adapter;
  std::string candidate_model;
  std::string candidate_adapter;
  int resamples = 2000;
  double confidence = 0.95;
  uint64_t seed = 1;
  int show = 3;  // examples where the two differ
  std::string output = "table";
};

void AddCompareOptions(CLI::App& command, CompareOptions& options);
absl::Status RunCompare(const CompareOptions& options);

}  // namespace tunefleet
