#include "trainer/eval/exact_match.h"

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

}  // namespace

absl::StatusOr<std::vector<int32_t>> EncodeChatPrompt(const Tokenizer& tokenizer, v1::ChatTemplate chat_template,
                                                      const std::string& user_message) {
  std::vector<int32_t> ids;
  auto append = [&ids](const std::vector<int32_t>& more) { ids.insert(ids.end(), more.begin(), more.end()); };
  if (chat_template == v1::CHAT_TEMPLATE_LLAMA3) {
    for (const char* token : {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}) {
      if (auto id = SpecialId(tokenizer, token); !id.ok()) return id.status();
    }
    append(tokenizer.Encode("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n", true));
    append(tokenizer.Encode(user_message, false));
    append(tokenizer.Encode("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", true));
    return ids;
  }
  for (const char* token : {"<|im_start|>", "<|im_end|>"}) {
    if (auto id = SpecialId(tokenizer, token); !id.ok()) return id.status();
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
  ExactMatchResult result;
  for (const PromptAndAnswer& example : examples) {
    std::vector<int32_t> prompt;
    if (format.chat_template.has_value()) {
      auto chat = EncodeChatPrompt(tokenizer, *format.chat_template, example.prompt);
      if (!chat.ok()) return chat.status();
      prompt = std::move(*chat);
    } else {
      prompt = tokenizer.Encode(example.prompt, false);
    }
    std::string reply = tokenizer.Decode(GreedyGenerate(model, prompt, format.max_new_tokens, stops), true);
    for (const std::string& stop : format.stop_strings) {
      if (const auto at = reply.find(stop); !stop.empty() && at != std::string::npos) reply.resize(at);
    }
    const bool correct = absl::StripAsciiWhitespace(reply) == absl::StripAsciiWhitespace(example.answer);
    result.correct += correct ? 1 : 0;
    ++result.total;
    if (result.samples.size() < 3) result.samples.push_back({example.prompt, example.answer, reply});
  }
  return result;
}

}  // namespace tunefleet
