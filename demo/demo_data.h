#pragma once
// The demo task: two-digit addition asked in words ("What is 23 plus 45?"),
// answered in chat by stating the sum ("23 + 45 = 68"). The bundled base model
// is pretrained on plain text: statements of sums ("23 + 45 = 68.") and
// question/answer pages ("Question: What is 23 plus 45?\nAnswer: 68"); it has
// never seen a chat template. Fine-tuning teaches it to reply in ChatML by
// restating the question as the statement it knows, which carries its
// knowledge over to held-out questions. (A bare "68" does not: a model this
// small completes "23 + 45 =" from memory but does not learn, in minutes of
// fine-tuning, to fetch that memory from anywhere else: 3% after
// fine-tuning, against 80% for the stated sum.) The metric is exact-match
// accuracy on held-out questions, easy for a person to read.

#include <cstdint>
#include <string>
#include <vector>

namespace tunefleet::demo {

struct AdditionQuestion {
  int a = 0;
  int b = 0;
  std::string prompt;  // the user's question
  std::string answer;  // the expected reply, exactly: "23 + 45 = 68"
};

struct DemoData {
  std::vector<std::string> pretrain_texts;           // {"text"} documents
  std::vector<AdditionQuestion> train, validation, test;  // disjoint (a, b) pairs
};

// Deterministic for a seed, on every platform.
DemoData GenerateDemoData(uint64_t seed);

// Writes pretrain.jsonl, train.jsonl, validation.jsonl (chat format) and
// test.jsonl (prompt/completion) into `dir`. Returns false and sets `error`.
bool WriteDemoData(const DemoData& data, const std::string& dir, std::string* error);

}  // namespace tunefleet::demo
