#include "trainer/data/fake_tokenizer.h"

#include <utility>

namespace tunefleet {

FakeTokenizer::FakeTokenizer(std::vector<std::string> special_tokens) : specials_(std::move(special_tokens)) {
  for (size_t i = 0; i < specials_.size(); ++i) special_ids_[specials_[i]] = static_cast<int32_t>(256 + i);
}

FakeTokenizer FakeTokenizer::WithAllSpecials() {
  return FakeTokenizer({"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>",
                        "<|end_header_id|>", "<|eot_id|>"});
}

std::vector<int32_t> FakeTokenizer::Encode(absl::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    if (parse_special) {
      for (size_t s = 0; s < specials_.size() && !matched; ++s) {
        if (text.substr(i, specials_[s].size()) == specials_[s]) {
          ids.push_back(static_cast<int32_t>(256 + s));
          i += specials_[s].size();
          matched = true;
        }
      }
    }
    if (!matched) ids.push_back(static_cast<unsigned char>(text[i++]));
  }
  return ids;
}

std::string FakeTokenizer::Decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 256) {
      out.push_back(static_cast<char>(id));
    } else if (!skip_special) {
      out += specials_.at(static_cast<size_t>(id - 256));
    }
  }
  return out;
}

std::optional<int32_t> FakeTokenizer::TokenToId(absl::string_view token) const {
  auto it = special_ids_.find(token);
  if (it != special_ids_.end()) return it->second;
  if (token.size() == 1) return static_cast<unsigned char>(token[0]);
  return std::nullopt;
}

std::optional<std::string> FakeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= VocabSize()) return std::nullopt;
  return Decode({id});
}

int32_t FakeTokenizer::VocabSize() const { return static_cast<int32_t>(256 + specials_.size()); }

}  // namespace tunefleet
