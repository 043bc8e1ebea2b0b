#include "trainer/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "trainer/tokenizer/byte_level.h"
#include "trainer/tokenizer/unicode.h"

namespace tunefleet {
namespace {

class BpeTokenizer : public Tokenizer {
 public:
  explicit BpeTokenizer(TokenizerParts parts) : parts_(std::move(parts)) {
    std::vector<AddedToken> raw, normalized;
    std::vector<std::string> raw_patterns, normalized_patterns;
    for (const AddedToken& t : parts_.added_tokens) {
      added_by_id_[t.id] = &t;
      added_by_content_.emplace(t.content, t.id);
      max_id_ = std::max(max_id_, t.id);
      // Normalised tokens are looked for in normalised text, so their
      // pattern is their normalised content.
      if (t.normalized) {
        normalized.push_back(t);
        normalized_patterns.push_back(parts_.nfc ? unicode::Nfc(t.content) : t.content);
      } else {
        raw.push_back(t);
        raw_patterns.push_back(t.content);
      }
    }
    raw_matcher_ = std::make_unique<AddedTokenMatcher>(std::move(raw), std::move(raw_patterns));
    normalized_matcher_ = std::make_unique<AddedTokenMatcher>(std::move(normalized), std::move(normalized_patterns));
    max_id_ = std::max(max_id_, parts_.model->MaxId());
  }

  std::vector<int32_t> Encode(absl::string_view text, bool parse_special) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    std::vector<std::string> pieces;
    for (const Segment& raw : raw_matcher_->Split(text, parse_special)) {
      if (raw.id >= 0) {
        ids.push_back(raw.id);
        continue;
      }
      const std::string normalized = parts_.nfc ? unicode::Nfc(raw.text) : std::string(raw.text);
      for (const Segment& seg : normalized_matcher_->Split(normalized, parse_special)) {
        if (seg.id >= 0) {
          ids.push_back(seg.id);
          continue;
        }
        pieces.clear();
        pieces.emplace_back(seg.text);
        if (parts_.pre_tokenizer) parts_.pre_tokenizer->Apply(&pieces);
        for (const std::string& piece : pieces) parts_.model->Tokenize(piece, &ids);
      }
    }
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids, bool skip_special) const override {
    // HF: ids -> token strings (added tokens verbatim, unknown ids dropped),
    // then the decoder over all of them.
    std::vector<const std::string*> tokens;
    tokens.reserve(ids.size());
    for (const int32_t id : ids) {
      auto added = added_by_id_.find(id);
      if (added != added_by_id_.end()) {
        if (!(skip_special && added->second->special)) tokens.push_back(&added->second->content);
        continue;
      }
      if (const std::string* token = parts_.model->IdToToken(id)) tokens.push_back(token);
    }
    if (parts_.decoder == DecoderKind::kNone) {
      return absl::StrJoin(tokens, " ", [](std::string* out, const std::string* t) { out->append(*t); });
    }
    // ByteLevel: a token whose characters are all in the alphabet becomes
    // its bytes; any other token is taken as its own UTF-8 (HF does both).
    const ByteLevelAlphabet& alphabet = ByteLevelAlphabet::Get();
    std::string bytes;
    for (const std::string* token : tokens) {
      const size_t before = bytes.size();
      if (!alphabet.AppendDecoded(*token, &bytes)) {
        bytes.resize(before);
        bytes.append(*token);
      }
    }
    std::string text;
    text.reserve(bytes.size());
    unicode::AppendUtf8Lossy(bytes, &text);
    return text;
  }

  std::optional<int32_t> TokenToId(absl::string_view token) const override {
    auto it = added_by_content_.find(token);
    if (it != added_by_content_.end()) return it->second;
    return parts_.model->TokenToId(token);
  }

  std::optional<std::string> IdToToken(int32_t id) const override {
    auto added = added_by_id_.find(id);
    if (added != added_by_id_.end()) return added->second->content;
    if (const std::string* token = parts_.model->IdToToken(id)) return *token;
    return std::nullopt;
  }

  int32_t VocabSize() const override { return max_id_ + 1; }

 private:
  const TokenizerParts parts_;
  absl::flat_hash_map<int32_t, const AddedToken*> added_by_id_;
  absl::flat_hash_map<std::string, int32_t> added_by_content_;
  std::unique_ptr<AddedTokenMatcher> raw_matcher_;
  std::unique_ptr<AddedTokenMatcher> normalized_matcher_;
  int32_t max_id_ = -1;
};

}  // namespace

std::unique_ptr<Tokenizer> MakeBpeTokenizer(TokenizerParts parts) {
  return std::make_unique<BpeTokenizer>(std::move(parts));
}

}  // namespace tunefleet
