#pragma once
// Exact-match accuracy: the model answers each prompt (greedy, in the chat
// template it was fine-tuned with) and an answer counts when it equals the
// expected completion after trimming whitespace.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/model/llama_model.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct PromptAndAnswer {
  std::string prompt;
  std::string answer;
};

// One example's outcome, for paired (A/B) comparison.
struct ExampleScore {
  std::string reply;
  bool correct = false;
  bool json_valid = false;  // the reply parses as a JSON object
  // The fraction of the expected JSON object's keys the reply got exactly;
  // negative where the expected answer is no JSON object.
  double json_fields = -1;
};

struct ExactMatchResult {
  int correct = 0;
  int total = 0;
  // Where the expected answers are JSON objects (structured output): replies
  // that parse as a JSON object, and the sum over examples of the fraction
  // of expected keys whose value the reply has exactly.
  int json_expected = 0;
  int json_valid = 0;
  double json_field_score = 0.0;
  double json_field_accuracy() const { return json_expected == 0 ? 0.0 : json_field_score / json_expected; }
  double accuracy() const { return total == 0 ? 0.0 : static_cast<double>(correct) / total; }
  // A few (prompt, expected, got) triples, for a person to look at.
  std::vector<std::vector<std::string>> samples;
  std::vector<ExampleScore> per_example;  // in the examples' order
};

// The prompt as a single user turn in `chat_template` (after a system turn
// when `system_message` is not empty), ending where the assistant's reply
// begins, tokenized as the training data's chat rendering does; and the ids
// that end a reply in that template.
absl::StatusOr<std::vector<int32_t>> EncodeChatPrompt(const Tokenizer& tokenizer, v1::ChatTemplate chat_template,
                                                      const std::string& user_message,
                                                      const std::string& system_message = "");
absl::StatusOr<std::vector<int32_t>> ReplyStopIds(const Tokenizer& tokenizer, v1::ChatTemplate chat_template);

struct GenerationFormat {
  // The chat template the prompt is wrapped in; nullopt: the prompt is raw
  // text to continue (a base model), ended by EOS or a stop string.
  std::optional<v1::ChatTemplate> chat_template = v1::CHAT_TEMPLATE_CHATML;
  // The reply ends before the first of these, as with vLLM's `stop`.
  std::vector<std::string> stop_strings;
  int max_new_tokens = 16;
  std::string system_message;  // a system turn before each chat prompt, if not empty
  int batch_size = 16;         // prompts generated together (left-padded, one KV cache)
};

absl::StatusOr<ExactMatchResult> EvaluateExactMatch(CausalLM& model, const Tokenizer& tokenizer,
                                                    const GenerationFormat& format,
                                                    const std::vector<PromptAndAnswer>& examples);

}  // namespace tunefleet
