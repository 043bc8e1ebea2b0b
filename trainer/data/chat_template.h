#pragma once
// Chat templates: a conversation rendered to token ids with a loss mask
// that covers exactly what the assistant says (its content and the token
// that ends its turn), never system or user turns or the role headers.
//
//   ChatML:  <|im_start|>role\ncontent<|im_end|>\n            (per message)
//   Llama 3: <|begin_of_text|>                                 (once)
//            <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>
//
// Rendering is piecewise: special tokens are taken by id from the
// tokenizer, and the text between them (role names, newlines, content) is
// encoded on its own with parse_special off. So a user who writes
// "<|im_end|>" in a message gets those characters, not a forged turn end,
// and the mask follows token boundaries exactly. (Both Qwen's and Llama 3's
// pre-tokenizers split a newline from the word after it, so this gives the
// same ids as encoding the rendered string whole, as HF does.)
// As in Llama 3's own Jinja template, its content is whitespace-trimmed.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/data/dataset_record.h"
#include "trainer/data/tokenized_example.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

class ChatTemplate {
 public:
  // CHAT_TEMPLATE_UNSPECIFIED means ChatML. FAILED_PRECONDITION naming the
  // token if the tokenizer lacks one the template needs. `tokenizer` must
  // outlive the template.
  static absl::StatusOr<ChatTemplate> Create(v1::ChatTemplate kind, const Tokenizer& tokenizer);

  // Appends the rendered conversation to `out`.
  void Render(const std::vector<ChatMessage>& messages, TokenizedExample* out) const;

  v1::ChatTemplate kind() const { return kind_; }

 private:
  ChatTemplate(v1::ChatTemplate kind, const Tokenizer* tokenizer) : kind_(kind), tokenizer_(tokenizer) {}
  std::vector<int32_t> EncodeText(const std::string& text) const;

  v1::ChatTemplate kind_;
  const Tokenizer* tokenizer_;
  int32_t begin_of_text_ = -1;  // Llama 3 only
  int32_t turn_start_ = -1;     // <|im_start|> or <|start_header_id|>
  int32_t header_end_ = -1;     // Llama 3 only: <|end_header_id|>
  int32_t turn_end_ = -1;       // <|im_end|> or <|eot_id|>
};

// "ChatML", "Llama 3".
const char* ChatTemplateName(v1::ChatTemplate kind);

}  // namespace tunefleet
