#pragma once
// Dataset records to token ids with a loss mask, one format per dataset:
//   text:              [bos] text <eos>            loss on text and <eos>
//   prompt/completion: [bos] prompt completion <eos>
//                                                  loss on completion and <eos>
//   chat:              the chat template's rendering (chat_template.h)
//                                                  loss on assistant turns
// Prompt and completion are concatenated as written, with no separator and
// no chat template: that is what TRL and the OpenAI legacy format do for
// this form, and the dataset author controls the join (a completion usually
// starts with a space or newline). The chat template applies only to chat
// datasets; a user who wants one for prompt/completion data writes it as
// {"messages": [user, assistant]}.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/data/chat_template.h"
#include "trainer/data/dataset_record.h"
#include "trainer/data/tokenized_example.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct ExampleTokenizerOptions {
  v1::ChatTemplate chat_template = v1::CHAT_TEMPLATE_UNSPECIFIED;
  // End-of-sequence token for text and prompt/completion examples; empty:
  // the first of <|endoftext|>, <|end_of_text|>, </s> the tokenizer has.
  std::string eos_token;
  // Prepended (without loss) to text and prompt/completion examples; empty:
  // none. Set it for models trained with a BOS ("<|begin_of_text|>", "<s>").
  std::string bos_token;
};

class ExampleTokenizer {
 public:
  // Resolves the special tokens `format` needs; FAILED_PRECONDITION if the
  // tokenizer lacks one. `tokenizer` must outlive this object.
  static absl::StatusOr<ExampleTokenizer> Create(const Tokenizer& tokenizer, v1::DatasetFormat format,
                                                 const ExampleTokenizerOptions& options);

  // INVALID_ARGUMENT if the record is not of the format this was made for.
  absl::StatusOr<TokenizedExample> Tokenize(const DatasetRecord& record) const;

  int32_t eos_id() const { return eos_id_; }  // -1 for chat

 private:
  ExampleTokenizer(const Tokenizer* tokenizer, v1::DatasetFormat format) : tokenizer_(tokenizer), format_(format) {}

  const Tokenizer* tokenizer_;
  v1::DatasetFormat format_;
  int32_t eos_id_ = -1;
  int32_t bos_id_ = -1;
  std::optional<ChatTemplate> chat_template_;
};

}  // namespace tunefleet
