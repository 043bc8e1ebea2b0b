#include "trainer/data/example_tokenizer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "trainer/data/jsonl_reader.h"

namespace tunefleet {
namespace {

absl::StatusOr<int32_t> ResolveEos(const Tokenizer& tokenizer, const std::string& requested) {
  if (!requested.empty()) {
    std::optional<int32_t> id = tokenizer.TokenToId(requested);
    if (!id.has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the end-of-sequence token ", requested, " is not in the tokenizer"));
    }
    return *id;
  }
  // Qwen/GPT-2, Llama 3, Llama 2/Mistral spellings, in that order.
  for (const char* candidate : {"<|endoftext|>", "<|end_of_text|>", "</s>"}) {
    if (std::optional<int32_t> id = tokenizer.TokenToId(candidate)) return *id;
  }
  return absl::FailedPreconditionError(
      "the tokenizer has no end-of-sequence token (none of <|endoftext|>, <|end_of_text|>, </s>); "
      "text and prompt/completion datasets need one: name it explicitly");
}

}  // namespace

absl::StatusOr<ExampleTokenizer> ExampleTokenizer::Create(const Tokenizer& tokenizer, v1::DatasetFormat format,
                                                          const ExampleTokenizerOptions& options) {
  ExampleTokenizer t(&tokenizer, format);
  switch (format) {
    case v1::DATASET_FORMAT_TEXT:
    case v1::DATASET_FORMAT_PROMPT_COMPLETION: {
      absl::StatusOr<int32_t> eos = ResolveEos(tokenizer, options.eos_token);
      if (!eos.ok()) return eos.status();
      t.eos_id_ = *eos;
      if (!options.bos_token.empty()) {
        std::optional<int32_t> bos = tokenizer.TokenToId(options.bos_token);
        if (!bos.has_value()) {
          return absl::FailedPreconditionError(
              absl::StrCat("the beginning-of-sequence token ", options.bos_token, " is not in the tokenizer"));
        }
        t.bos_id_ = *bos;
      }
      break;
    }
    case v1::DATASET_FORMAT_CHAT: {
      absl::StatusOr<ChatTemplate> chat = ChatTemplate::Create(options.chat_template, tokenizer);
      if (!chat.ok()) return chat.status();
      t.chat_template_ = *std::move(chat);
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "the dataset format must be known (text, prompt/completion or chat) before tokenizing");
  }
  return t;
}

absl::StatusOr<TokenizedExample> ExampleTokenizer::Tokenize(const DatasetRecord& record) const {
  if (record.format != format_) {
    return absl::InvalidArgumentError(absl::StrCat(record.source, ": a ", DatasetFormatName(record.format),
                                                   " record given to a ", DatasetFormatName(format_),
                                                   " tokenizer"));
  }
  TokenizedExample out;
  // Dataset text is data: a literal "<|endoftext|>" in it stays text.
  constexpr bool kParseSpecial = false;
  switch (format_) {
    case v1::DATASET_FORMAT_TEXT:
      if (bos_id_ >= 0) out.Append(bos_id_, false);
      out.Append(tokenizer_->Encode(record.text, kParseSpecial), true);
      out.Append(eos_id_, true);
      break;
    case v1::DATASET_FORMAT_PROMPT_COMPLETION:
      if (bos_id_ >= 0) out.Append(bos_id_, false);
      out.Append(tokenizer_->Encode(record.prompt, kParseSpecial), false);
      out.Append(tokenizer_->Encode(record.completion, kParseSpecial), true);
      out.Append(eos_id_, true);
      break;
    case v1::DATASET_FORMAT_CHAT:
      chat_template_->Render(record.messages, &out);
      break;
    default:
      break;
  }
  return out;
}

}  // namespace tunefleet
