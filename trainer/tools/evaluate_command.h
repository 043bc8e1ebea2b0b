#pragma once
// `tunefleet-trainer evaluate`: exact-match accuracy of a model (and
// optionally a PEFT adapter) on a prompt/completion JSONL file.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/eval/exact_match.h"

namespace tunefleet {

struct EvaluateOptions {
  std::string model_dir;
  std::string adapter_dir;
  std::string data_path;
  std::string chat_template = "chatml";  // chatml, llama3 or none (raw text completion)
  std::vector<std::string> stop;
  std::string system;  // a system turn before every prompt
  int max_new_tokens = 16;
  int batch_size = 16;
  int limit = 0;  // 0: every example
};

void AddEvaluateOptions(CLI::App& command, EvaluateOptions& options);
// The generation settings of `options` (`compare` shares them);
// INVALID_ARGUMENT for an unknown --chat-template.
absl::StatusOr<GenerationFormat> GenerationFormatFrom(const EvaluateOptions& options);
absl::Status RunEvaluate(const EvaluateOptions& options);

}  // namespace tunefleet
