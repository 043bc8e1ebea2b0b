// Byte-level BPE training: count pre-tokens once, then repeatedly merge the
// most frequent adjacent pair, updating pair counts only in the words that
// contain it (an index from pair to words), with a lazy max-heap.

#include "trainer/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "trainer/tokenizer/added_vocabulary.h"
#include "trainer/tokenizer/byte_level.h"
#include "trainer/tokenizer/split_regex.h"
#include "trainer/tokenizer/unicode.h"

namespace tunefleet {
namespace {

using Pair = std::pair<int32_t, int32_t>;

uint64_t Key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
Pair Unkey(uint64_t k) { return {static_cast<int32_t>(k >> 32), static_cast<int32_t>(k & 0xFFFFFFFFu)}; }

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

class Trainer {
 public:
  explicit Trainer(int64_t min_frequency) : min_frequency_(min_frequency) {
    // The 256 byte tokens, ordered by their alphabet code point (GPT-2's order).
    const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
    std::vector<int> bytes(256);
    for (int b = 0; b < 256; ++b) bytes[b] = b;
    std::sort(bytes.begin(), bytes.end(),
              [&](int a, int b) { return alphabet.CodePoint(a) < alphabet.CodePoint(b); });
    for (int b : bytes) {
      byte_id_[b] = static_cast<int32_t>(strings_.size());
      AddToken(alphabet.Encode(static_cast<unsigned char>(b)));
    }
  }

  void AddText(absl::string_view text) {
    // Qwen2's regex, as the tokenizer we emit runs it, on NFC text.
    const std::string nfc = unicode::Nfc(text);
    for (const auto& [begin, end] : FindRegexMatches(SplitRegex::kQwen2, nfc)) {
      ++piece_counts_[absl::string_view(nfc).substr(begin, end - begin)];
    }
  }

  // Merges until the BPE vocabulary has `target` tokens.
  void Train(size_t target) {
    for (auto& [piece, count] : piece_counts_) {
      Word w{{}, count};
      for (const char c : piece) w.symbols.push_back(byte_id_[static_cast<unsigned char>(c)]);
      words_.push_back(std::move(w));
    }
    piece_counts_.clear();
    // Hash-map order must not leak into ties or ids: sort the words.
    std::sort(words_.begin(), words_.end(), [](const Word& a, const Word& b) { return a.symbols < b.symbols; });
    for (size_t w = 0; w < words_.size(); ++w) AddPairs(static_cast<int32_t>(w), +1, nullptr);
    for (const auto& [key, count] : pair_counts_) heap_.push({count, key});
    std::vector<int32_t> seen_at(words_.size(), -1);

    while (strings_.size() < target) {
      uint64_t best;
      if (!PopBest(&best)) break;
      const auto [a, b] = Unkey(best);
      const std::string merged = strings_[a] + strings_[b];
      auto existing = ids_.find(merged);
      const int32_t id = existing != ids_.end() ? existing->second : AddToken(merged);
      merges_.emplace_back(a, b);

      absl::flat_hash_set<uint64_t> changed;
      const std::vector<int32_t> where = std::move(where_[best]);
      where_.erase(best);
      for (const int32_t w : where) {
        if (seen_at[w] == static_cast<int32_t>(merges_.size())) continue;
        seen_at[w] = static_cast<int32_t>(merges_.size());
        if (!Contains(words_[w].symbols, a, b)) continue;
        AddPairs(w, -1, &changed);
        MergeIn(&words_[w].symbols, a, b, id);
        AddPairs(w, +1, &changed);
      }
      for (const uint64_t key : changed) {
        auto it = pair_counts_.find(key);
        if (it != pair_counts_.end() && it->second > 0) heap_.push({it->second, key});
      }
    }
  }

  nlohmann::ordered_json ToJson(const std::vector<std::string>& special_tokens) const {
    using ojson = nlohmann::ordered_json;
    ojson added = ojson::array();
    for (size_t i = 0; i < special_tokens.size(); ++i) {
      added.push_back({{"id", strings_.size() + i},
                       {"content", special_tokens[i]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
    }
    ojson vocab = ojson::object();
    for (size_t i = 0; i < strings_.size(); ++i) vocab[strings_[i]] = i;
    ojson merges = ojson::array();
    for (const auto& [a, b] : merges_) merges.push_back({strings_[a], strings_[b]});
    const ojson byte_level = {{"type", "ByteLevel"},
                              {"add_prefix_space", false},
                              {"trim_offsets", false},
                              {"use_regex", false}};
    return {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", {{"type", "NFC"}}},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", std::string(SplitRegexPattern(SplitRegex::kQwen2))}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            byte_level}}}},
        {"post_processor", byte_level},
        {"decoder", byte_level},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", ""},
          {"end_of_word_suffix", ""},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", merges}}},
    };
  }

  size_t size() const { return strings_.size(); }

 private:
  struct Entry {
    int64_t count;
    uint64_t key;
  };
  // Max-heap order: more frequent first; among equals, the pair whose
  // (left, right) strings sort first.
  struct Less {
    const Trainer* t;
    bool operator()(const Entry& x, const Entry& y) const {
      if (x.count != y.count) return x.count < y.count;
      const auto [xa, xb] = Unkey(x.key);
      const auto [ya, yb] = Unkey(y.key);
      const int c = t->strings_[xa].compare(t->strings_[ya]);
      if (c != 0) return c > 0;
      return t->strings_[xb] > t->strings_[yb];
    }
  };

  int32_t AddToken(const std::string& s) {
    const int32_t id = static_cast<int32_t>(strings_.size());
    strings_.push_back(s);
    ids_.emplace(s, id);
    return id;
  }

  // Heap entries go stale when a count changes; a fresh one was pushed then.
  bool PopBest(uint64_t* key) {
    while (!heap_.empty()) {
      const Entry e = heap_.top();
      heap_.pop();
      auto it = pair_counts_.find(e.key);
      if (it == pair_counts_.end() || it->second != e.count) continue;
      if (e.count < min_frequency_) return false;
      *key = e.key;
      return true;
    }
    return false;
  }

  static bool Contains(const std::vector<int32_t>& s, int32_t a, int32_t b) {
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (s[i] == a && s[i + 1] == b) return true;
    }
    return false;
  }

  // Non-overlapping, left to right (as the tokenizer's merge of one rank).
  static void MergeIn(std::vector<int32_t>* s, int32_t a, int32_t b, int32_t id) {
    size_t out = 0;
    for (size_t i = 0; i < s->size(); ++i) {
      if (i + 1 < s->size() && (*s)[i] == a && (*s)[i + 1] == b) {
        (*s)[out++] = id;
        ++i;
      } else {
        (*s)[out++] = (*s)[i];
      }
    }
    s->resize(out);
  }

  void AddPairs(int32_t w, int sign, absl::flat_hash_set<uint64_t>* changed) {
    const Word& word = words_[w];
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      const uint64_t key = Key(word.symbols[i], word.symbols[i + 1]);
      int64_t& count = pair_counts_[key];
      count += sign * word.count;
      if (sign > 0) where_[key].push_back(w);
      if (changed) changed->insert(key);
    }
  }

  const int64_t min_frequency_;
  int32_t byte_id_[256] = {};
  std::vector<std::string> strings_;  // id -> token string
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<Pair> merges_;
  absl::flat_hash_map<std::string, int64_t> piece_counts_;
  std::vector<Word> words_;
  absl::flat_hash_map<uint64_t, int64_t> pair_counts_;
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> where_;  // may hold stale words
  std::priority_queue<Entry, std::vector<Entry>, Less> heap_{Less{this}};
};

}  // namespace

absl::StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& texts, int32_t vocab_size,
                                              const std::vector<std::string>& special_tokens,
                                              const BpeTrainerOptions& options) {
  const int64_t min_size = 256 + static_cast<int64_t>(special_tokens.size());
  if (vocab_size < min_size) {
    return absl::InvalidArgumentError(absl::StrCat("vocab_size ", vocab_size, " is below 256 byte tokens + ",
                                                   special_tokens.size(), " special tokens"));
  }
  std::vector<AddedToken> specials;
  for (const std::string& s : special_tokens) {
    if (s.empty()) return absl::InvalidArgumentError("a special token is empty");
    if (std::count(special_tokens.begin(), special_tokens.end(), s) > 1) {
      return absl::InvalidArgumentError(absl::StrCat("special token '", s, "' is listed twice"));
    }
    AddedToken token;
    token.id = static_cast<int32_t>(specials.size());
    token.content = s;
    token.special = true;
    specials.push_back(std::move(token));
  }
  const AddedTokenMatcher matcher(specials, special_tokens);

  Trainer trainer(options.min_frequency);
  for (const std::string& text : texts) {
    for (const Segment& seg : matcher.Split(text, /*parse_special=*/true)) {
      if (seg.id < 0) trainer.AddText(seg.text);
    }
  }
  trainer.Train(static_cast<size_t>(vocab_size) - special_tokens.size());
  return trainer.ToJson(special_tokens).dump(1);
}

}  // namespace tunefleet
