#pragma once
// `tunefleet-trainer export`: any committed checkpoint (a step folder, or a
// job's folder for its newest valid one) to a Hugging Face model directory,
// a PEFT adapter, or a LoRA run merged into its base model.

#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"

namespace tunefleet {

struct ExportCommandOptions {
  std::string checkpoint;  // <root>/<job>/step-<n> or <root>/<job>
  std::string base_model;  // the base model dir (config, tokenizer; LoRA: base weights)
  std::string out;
  // hf_model, peft_adapter or merged_model; empty: hf_model for a full
  // fine-tune, peft_adapter for LoRA.
  std::string format;
  // Reads an encrypted checkpoint and writes the export encrypted; empty:
  // $TUNEFLEET_ENCRYPTION_KEY_FILE, else plaintext.
  std::string encryption_key_file;
};

void AddExportOptions(CLI::App& command, ExportCommandOptions& options);
absl::Status RunExport(const ExportCommandOptions& options);

}  // namespace tunefleet
