#include "demo/demo_data.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace tunefleet::demo {
namespace {

// splitmix64: a tiny generator whose output is the same everywhere
// (std:: distributions are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t Below(std::size_t n) { return static_cast<std::size_t>(Next() % n); }

 private:
  uint64_t state_;
};

const char* const kQuestionForms[] = {
    "What is {a} plus {b}?", "What is {a} + {b}?", "Add {a} and {b}.", "Compute {a} + {b}.",
    "How much is {a} plus {b}?", "What do you get when you add {a} to {b}?"};
const char* const kStatementForms[] = {"{a} + {b} = {c}.", "{a} plus {b} is {c}.", "The sum of {a} and {b} is {c}.",
                                       "{a} plus {b} equals {c}.", "Adding {a} and {b} gives {c}."};

std::string Fill(std::string form, int a, int b, int c) {
  auto replace = [&form](const std::string& key, int value) {
    for (std::size_t pos; (pos = form.find(key)) != std::string::npos;) form.replace(pos, key.size(), std::to_string(value));
  };
  replace("{a}", a);
  replace("{b}", b);
  replace("{c}", c);
  return form;
}

AdditionQuestion Question(Rng& rng, int a, int b) {
  const std::size_t n = sizeof(kQuestionForms) / sizeof(kQuestionForms[0]);
  return AdditionQuestion{a, b, Fill(kQuestionForms[rng.Below(n)], a, b, a + b), Fill("{a} + {b} = {c}", a, b, a + b)};
}

bool WriteLines(const std::string& path, const std::vector<nlohmann::json>& lines, std::string* error) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& line : lines) out << line.dump() << '\n';
  out.flush();
  if (!out) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

DemoData GenerateDemoData(uint64_t seed) {
  Rng rng(seed);
  std::vector<std::pair<int, int>> pairs;
  for (int a = 10; a < 100; ++a) {
    for (int b = 10; b < 100; ++b) pairs.emplace_back(a, b);
  }
  for (std::size_t i = pairs.size() - 1; i > 0; --i) std::swap(pairs[i], pairs[rng.Below(i + 1)]);

  DemoData data;
  // 8100 pairs: 200 test, 100 validation, 2000 fine-tuning; the base model
  // sees every pair during pretraining, as statements and as plain-text
  // questions and answers, never in a chat template.
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto [a, b] = pairs[i];
    if (i < 200) {
      data.test.push_back(Question(rng, a, b));
    } else if (i < 300) {
      data.validation.push_back(Question(rng, a, b));
    } else if (i < 2300) {
      data.train.push_back(Question(rng, a, b));
    }
  }
  const std::size_t forms = sizeof(kStatementForms) / sizeof(kStatementForms[0]);
  for (int repeat = 0; repeat < 2; ++repeat) {
    for (std::size_t i = 0; i < pairs.size(); i += 4) {
      std::string doc;
      for (std::size_t j = i; j < std::min(i + 4, pairs.size()); ++j) {
        const auto [a, b] = pairs[j];
        if (!doc.empty()) doc += ' ';
        doc += Fill(kStatementForms[rng.Below(forms)], a, b, a + b);
      }
      data.pretrain_texts.push_back(std::move(doc));
    }
  }
  // Plain-text question and answer pages, as a base model meets on the web:
  // it learns to answer "Question: ...\nAnswer:", never a chat template, so
  // fine-tuning has the chat format to teach, and the base model the sums.
  for (std::size_t i = 0; i < pairs.size(); i += 4) {
    std::string doc;
    for (std::size_t j = i; j < std::min(i + 4, pairs.size()); ++j) {
      const auto [a, b] = pairs[j];
      if (!doc.empty()) doc += "\n\n";
      doc += "Question: " + Question(rng, a, b).prompt + "\nAnswer: " + std::to_string(a + b);
    }
    data.pretrain_texts.push_back(std::move(doc));
  }
  for (std::size_t i = data.pretrain_texts.size() - 1; i > 0; --i) {
    std::swap(data.pretrain_texts[i], data.pretrain_texts[rng.Below(i + 1)]);
  }
  return data;
}

bool WriteDemoData(const DemoData& data, const std::string& dir, std::string* error) {
  std::vector<nlohmann::json> pretrain, train, validation, test;
  for (const auto& text : data.pretrain_texts) pretrain.push_back({{"text", text}});
  auto chat = [](const AdditionQuestion& q) {
    return nlohmann::json{{"messages", {{{"role", "user"}, {"content", q.prompt}},
                                        {{"role", "assistant"}, {"content", q.answer}}}}};
  };
  for (const auto& q : data.train) train.push_back(chat(q));
  for (const auto& q : data.validation) validation.push_back(chat(q));
  for (const auto& q : data.test) test.push_back({{"prompt", q.prompt}, {"completion", q.answer}});
  return WriteLines(dir + "/pretrain.jsonl", pretrain, error) && WriteLines(dir + "/train.jsonl", train, error) &&
         WriteLines(dir + "/validation.jsonl", validation, error) && WriteLines(dir + "/test.jsonl", test, error);
}

}  // namespace tunefleet::demo
