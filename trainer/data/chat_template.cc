#include "trainer/data/chat_template.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

absl::StatusOr<int32_t> RequireToken(const Tokenizer& tokenizer, const char* token, v1::ChatTemplate kind) {
  std::optional<int32_t> id = tokenizer.TokenToId(token);
  if (!id.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("the ", ChatTemplateName(kind), " chat template needs the token ",
                                                      token, ", which the tokenizer does not have; choose the "
                                                      "dataset.chat_template the model was trained with"));
  }
  return *id;
}

}  // namespace

const char* ChatTemplateName(v1::ChatTemplate kind) {
  switch (kind) {
    case v1::CHAT_TEMPLATE_UNSPECIFIED:
    case v1::CHAT_TEMPLATE_CHATML:
      return "ChatML";
    case v1::CHAT_TEMPLATE_LLAMA3:
      return "Llama 3";
    default:
      return "unknown";
  }
}

absl::StatusOr<ChatTemplate> ChatTemplate::Create(v1::ChatTemplate kind, const Tokenizer& tokenizer) {
  if (kind == v1::CHAT_TEMPLATE_UNSPECIFIED) kind = v1::CHAT_TEMPLATE_CHATML;
  ChatTemplate t(kind, &tokenizer);
  std::vector<std::pair<const char*, int32_t*>> needed;
  switch (kind) {
    case v1::CHAT_TEMPLATE_CHATML:
      needed = {{"<|im_start|>", &t.turn_start_}, {"<|im_end|>", &t.turn_end_}};
      break;
    case v1::CHAT_TEMPLATE_LLAMA3:
      needed = {{"<|begin_of_text|>", &t.begin_of_text_},
                {"<|start_header_id|>", &t.turn_start_},
                {"<|end_header_id|>", &t.header_end_},
                {"<|eot_id|>", &t.turn_end_}};
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown chat template ", static_cast<int>(kind)));
  }
  for (const auto& [token, field] : needed) {
    absl::StatusOr<int32_t> id = RequireToken(tokenizer, token, kind);
    if (!id.ok()) return id.status();
    *field = *id;
  }
  return t;
}

std::vector<int32_t> ChatTemplate::EncodeText(const std::string& text) const {
  return tokenizer_->Encode(text, /*parse_special=*/false);
}

void ChatTemplate::Render(const std::vector<ChatMessage>& messages, TokenizedExample* out) const {
  if (kind_ == v1::CHAT_TEMPLATE_LLAMA3) out->Append(begin_of_text_, false);
  for (const ChatMessage& m : messages) {
    const bool train = m.role == ChatRole::kAssistant;
    const std::string role = ChatRoleName(m.role);
    if (kind_ == v1::CHAT_TEMPLATE_LLAMA3) {
      out->Append(turn_start_, false);
      out->Append(EncodeText(role), false);
      out->Append(header_end_, false);
      out->Append(EncodeText("\n\n"), false);
      out->Append(EncodeText(std::string(absl::StripAsciiWhitespace(m.content))), train);
      out->Append(turn_end_, train);
    } else {
      out->Append(turn_start_, false);
      out->Append(EncodeText(role + "\n"), false);
      out->Append(EncodeText(m.content), train);
      out->Append(turn_end_, train);
      // The newline after <|im_end|> is not trained: generation stops at <|im_end|>.
      out->Append(EncodeText("\n"), false);
    }
  }
}

}  // namespace tunefleet
