#pragma once
// `tunefleet-trainer evaluate`: exact-match accuracy of a model (and
// optionally a PEFT adapter) on a prompt/completion JSONL file.

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

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
absl::Status RunEvaluate(const EvaluateOptions& options);

}  // namespace tunefleet
