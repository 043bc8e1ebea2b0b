#include "trainer/eval/exact_match.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "trainer/eval/generation.h"

namespace tunefleet {
namespace {

absl::StatusOr<int32_t> SpecialId(const Tokenizer& tokenizer, const std::string& token) {
  auto id = tokenizer.TokenToId(token);
  if (!id) return absl::FailedPreconditionError(absl::StrCat("the tokenizer has no ", token, " token"));
  return *id;
}

// Structured output: when the expected answer is a JSON object, how much of
// it the reply gets right, field by field (exact values).
// Returns the example's fraction (negative when no JSON object is expected).
double ScoreJsonFields(const std::string& expected, const std::string& reply, ExactMatchResult* result) {
  const nlohmann::json want = nlohmann::json::parse(expected, nullptr, /*allow_exceptions=*/false);
  if (!want.is_object() || want.empty()) return -1;
  ++result->json_expected;
  const nlohmann::json got = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!got.is_object()) return 0;
  ++result->json_valid;
  int fields = 0;
  for (const auto& [key, value] : want.items()) fields += got.contains(key) && got[key] == value ? 1 : 0;
  const double fraction = static_cast<double>(fields) / static_cast<double>(want.size());
  result->json_field_score += fraction;
  return fraction;
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> EncodeChatPrompt(const Tokenizer& tokenizer, v1::ChatTemplate chat_template,
                                                      const std::string& user_message,
                                                      const std::string& system_message) {
  std::vector<int32_t> ids;
  auto append = [&ids](const std::vector<int32_t>& more) { ids.insert(ids.end(), more.begin(), more.end()); };
  if (chat_template == v1::CHAT_TEMPLATE_LLAMA3) {
    for (const char* token : {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
      if (auto id = SpecialId(tokenizer, token); !id.ok()) return id.status();
    }
    append(tokenizer.Encode("<|begin_of_text|>", true));
    if (!system_message.empty()) {
      append(tokenizer.Encode("<|start_header_id|>system<|end_header_id|>\n\n", true));
      append(tokenizer.Encode(std::string(absl::StripAsciiWhitespace(system_message)), false));
      append(tokenizer.Encode("<|eot_id|>", true));
    }
    append(tokenizer.Encode("<|start_header_id|>user<|end_header_id|>\n\n", true));
    append(tokenizer.Encode(user_message, false));
    append(tokenizer.Encode("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", true));
    return ids;
  }
  for (const char* token : {"<|im_start|>", "<|im_end|>"}) {
    if (auto id = SpecialId(tokenizer, token); !id.ok()) return id.status();
  }
  if (!system_message.empty()) {
    append(tokenizer.Encode("<|im_start|>system\n", true));
    append(tokenizer.Encode(system_message, false));
    append(tokenizer.Encode("<|im_end|>\n", true));
  }
  append(tokenizer.Encode("<|im_start|>user\n", true));
  append(tokenizer.Encode(user_message, false));
  append(tokenizer.Encode("<|im_end|>\n<|im_start|>assistant\n", true));
  return ids;
}

absl::StatusOr<std::vector<int32_t>> ReplyStopIds(const Tokenizer& tokenizer, v1::ChatTemplate chat_template) {
  std::vector<int32_t> stops;
  const char* end = chat_template == v1::CHAT_TEMPLATE_LLAMA3 ? "<|eot_id|>" : "<|im_end|>";
  auto id = SpecialId(tokenizer, end);
  if (!id.ok()) return id.status();
  stops.push_back(*id);
  for (const char* eos : {"<|endoftext|>", "<|end_of_text|>", "</s>"}) {
    if (auto other = tokenizer.TokenToId(eos)) stops.push_back(*other);
  }
  return stops;
}

absl::StatusOr<ExactMatchResult> EvaluateExactMatch(CausalLM& model, const Tokenizer& tokenizer,
                                                    const GenerationFormat& format,
                                                    const std::vector<PromptAndAnswer>& examples) {
  std::vector<int32_t> stops;
  if (format.chat_template.has_value()) {
    auto chat_stops = ReplyStopIds(tokenizer, *format.chat_template);
    if (!chat_stops.ok()) return chat_stops.status();
    stops = *chat_stops;
  } else {
    for (const char* eos : {"<|endoftext|>", "<|end_of_text|>", "</s>"}) {
      if (auto id = tokenizer.TokenToId(eos)) stops.push_back(*id);
    }
  }
  std::vector<std::vector<int32_t>> prompts;
  for (const PromptAndAnswer& example : examples) {
    if (format.chat_template.has_value()) {
      auto chat = EncodeChatPrompt(tokenizer, *format.chat_template, example.prompt, format.system_message);
      if (!chat.ok()) return chat.status();
      prompts.push_back(*std::move(chat));
    } else {
      prompts.push_back(tokenizer.Encode(example.prompt, false));
    }
  }
  ExactMatchResult result;
  const size_t batch = static_cast<size_t>(std::max(1, format.batch_size));
  for (size_t first = 0; first < examples.size(); first += batch) {
    const size_t last = std::min(examples.size(), first + batch);
    const std::vector<std::vector<int32_t>> chunk(prompts.begin() + static_cast<std::ptrdiff_t>(first),
                                                  prompts.begin() + static_cast<std::ptrdiff_t>(last));
    const auto replies = GreedyGenerateBatch(model, chunk, format.max_new_tokens, stops);
    for (size_t i = first; i < last; ++i) {
      const PromptAndAnswer& example = examples[i];
      std::string reply = tokenizer.Decode(replies[i - first], true);
      for (const std::string& stop : format.stop_strings) {
        if (const auto at = reply.find(stop); !stop.empty() && at != std::string::npos) reply.resize(at);
      }
      const bool correct = absl::StripAsciiWhitespace(reply) == absl::StripAsciiWhitespace(example.answer);
      result.correct += correct ? 1 : 0;
      const double json_fields = ScoreJsonFields(example.answer, reply, &result);
      ++result.total;
      if (result.samples.size() < 4) result.samples.push_back({example.prompt, example.answer, reply});
      const bool json_valid =
          json_fields >= 0 && nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false).is_object();
      result.per_example.push_back({std::move(reply), correct, json_valid, json_fields});
    }
  }
  return result;
}

}  // namespace tunefleet
