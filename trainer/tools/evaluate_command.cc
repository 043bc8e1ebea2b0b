#include "trainer/tools/evaluate_command.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "trainer/data/jsonl_reader.h"
#include "trainer/eval/exact_match.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_loader.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {

void AddEvaluateOptions(CLI::App& command, EvaluateOptions& options) {
  command.add_option("--model", options.model_dir, "A Hugging Face model directory or a GGUF file")->required();
  command.add_option("--adapter", options.adapter_dir, "PEFT LoRA adapter directory to apply");
  command.add_option("--data", options.data_path, "JSONL of {\"prompt\", \"completion\"}")->required();
  command.add_option("--chat-template", options.chat_template, "chatml, llama3, or none: continue the raw prompt (a base model)")
      ->capture_default_str();
  command.add_option("--system", options.system, "A system message before every prompt (chat templates)");
  command.add_option("--stop", options.stop, "The reply ends before this text (repeatable)");
  command.add_option("--max-new-tokens", options.max_new_tokens, "Reply length cap")->capture_default_str();
  command.add_option("--batch-size", options.batch_size, "Prompts generated together")->capture_default_str();
  command.add_option("--limit", options.limit, "Evaluate the first N examples only (0: all)");
}

absl::StatusOr<GenerationFormat> GenerationFormatFrom(const EvaluateOptions& options) {
  GenerationFormat format;
  format.stop_strings = options.stop;
  format.max_new_tokens = options.max_new_tokens;
  format.system_message = options.system;
  format.batch_size = options.batch_size;
  if (options.chat_template == "chatml") {
    format.chat_template = v1::CHAT_TEMPLATE_CHATML;
  } else if (options.chat_template == "llama3") {
    format.chat_template = v1::CHAT_TEMPLATE_LLAMA3;
  } else if (options.chat_template == "none") {
    format.chat_template = std::nullopt;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--chat-template: unknown '", options.chat_template,
                                                   "' (chatml, llama3 or none)"));
  }
  return format;
}

absl::Status RunEvaluate(const EvaluateOptions& options) {
  absl::StatusOr<GenerationFormat> format = GenerationFormatFrom(options);
  if (!format.ok()) return format.status();
  auto records = ReadJsonlFile(options.data_path, v1::DATASET_FORMAT_PROMPT_COMPLETION);
  if (!records.ok()) return records.status();
  std::vector<PromptAndAnswer> examples;
  for (const auto& record : *records) {
    if (options.limit > 0 && static_cast<int>(examples.size()) >= options.limit) break;
    examples.push_back({record.prompt, record.completion});
  }
  auto tokenizer = LoadBaseTokenizer(options.model_dir);
  if (!tokenizer.ok()) return tokenizer.status();
  auto model = LoadBaseModel(options.model_dir);
  if (!model.ok()) return model.status();
  if (!options.adapter_dir.empty()) {
    if (auto s = LoadPeftAdapter(**model, options.adapter_dir); !s.ok()) return s;
  }
  auto result = EvaluateExactMatch(**model, **tokenizer, *format, examples);
  if (!result.ok()) return result.status();
  // One line per sample (a reply's newlines shown as \n), so scripts can pair them.
  const auto one_line = [](const std::string& text) { return absl::StrReplaceAll(text, {{"\n", "\\n"}}); };
  for (const auto& sample : result->samples) {
    std::printf("  Q: %s  expected: %s  got: %s\n", one_line(sample[0]).c_str(), one_line(sample[1]).c_str(),
                one_line(sample[2]).c_str());
  }
  if (result->json_expected > 0) {
    std::printf("valid JSON: %d/%d = %.1f%%\n", result->json_valid, result->json_expected,
                100.0 * result->json_valid / result->json_expected);
    std::printf("JSON field accuracy: %.1f%%\n", 100.0 * result->json_field_accuracy());
  }
  std::printf("exact match: %d/%d = %.1f%%\n", result->correct, result->total, 100.0 * result->accuracy());
  return absl::OkStatus();
}

}  // namespace tunefleet
