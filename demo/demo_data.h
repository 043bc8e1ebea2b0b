#pragma once
// The demo task: two-digit addition asked in words ("What is 23 plus 45?"),
// answered with the number ("68"). The bundled base model is pretrained on
// plain text: statements of sums ("23 + 45 = 68.") and question/answer pages
// ("Question: What is 23 plus 45?\nAnswer: 68"). Fine-tuning teaches it to
// answer in a chat template (ChatML), which it has never seen. The metric is
// exact-match accuracy on held-out questions, easy for a person to read.

#include <cstdint>
#include <string>
#include <vector>

namespace tunefleet::demo {

struct AdditionQuestion {
  int a = 0;
  int b = 0;
  std::string prompt;  // the user's question
  std::string answer;  // the expected reply, exactly
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
