#pragma once
// The BPE model of a tokenizer.json: a vocabulary, ranked merges, and the
// merge loop that turns one pre-token into ids, as HF tokenizers' BPE does
// (lowest rank first, leftmost first among equal ranks).

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet {

struct BpeOptions {
  std::optional<std::string> unk_token;  // used for characters not in the vocabulary
  bool fuse_unk = false;                 // consecutive unknowns become one unk
  bool byte_fallback = false;            // unknown characters become <0xXX> byte tokens
  bool ignore_merges = false;            // a pre-token in the vocabulary is emitted whole
};

class BpeModel {
 public:
  // vocab: token -> id; merges: pairs of tokens, by rank. Errors (no file
  // name: the caller adds it) on a merge naming an unknown token or whose
  // result is not in the vocabulary.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      std::vector<std::pair<std::string, int32_t>> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  // Appends the ids of one pre-token. Results are cached per pre-token.
  void Tokenize(absl::string_view piece, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(absl::string_view token) const;
  // nullptr when id is not a vocabulary id.
  const std::string* IdToToken(int32_t id) const;
  int32_t MaxId() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  explicit BpeModel(BpeOptions options) : options_(std::move(options)) {}
  void InitialSymbols(absl::string_view piece, std::vector<int32_t>* symbols) const;
  void MergeWord(std::vector<int32_t>* symbols) const;

  const BpeOptions options_;
  std::optional<int32_t> unk_id_;
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  std::vector<int32_t> byte_fallback_ids_;  // <0xXX> ids, -1 where missing

  // Pre-token -> ids. Bounded: once full, new words are not remembered.
  static constexpr size_t kCacheCapacity = 1 << 17;
  static constexpr size_t kMaxCachedPieceBytes = 256;
  mutable std::mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace tunefleet
