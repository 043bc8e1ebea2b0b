#include "trainer/tokenizer/bpe_model.h"

#include <cstdio>
#include <queue>

#include "absl/strings/str_cat.h"
#include "trainer/tokenizer/unicode.h"

namespace tunefleet {

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    std::vector<std::pair<std::string, int32_t>> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options) {
  std::unique_ptr<BpeModel> model(new BpeModel(std::move(options)));
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0) return absl::InvalidArgumentError(absl::StrCat("vocab token '", token, "' has negative id ", id));
    max_id = std::max(max_id, id);
  }
  model->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  model->has_token_.assign(static_cast<size_t>(max_id + 1), false);
  model->token_to_id_.reserve(vocab.size());
  for (auto& [token, id] : vocab) {
    model->id_to_token_[id] = token;
    model->has_token_[id] = true;
    model->token_to_id_[std::move(token)] = id;
  }

  model->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto a = model->TokenToId(left);
    const auto b = model->TokenToId(right);
    const auto merged = model->TokenToId(left + right);
    for (const auto& [found, what] : {std::make_pair(a.has_value(), &left), std::make_pair(b.has_value(), &right)}) {
      if (!found) {
        return absl::InvalidArgumentError(
            absl::StrCat("merge ", rank, " ('", left, "' + '", right, "') references unknown token '", *what, "'"));
      }
    }
    if (!merged) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge ", rank, " ('", left, "' + '", right, "'): result '", left, right, "' is not in the vocab"));
    }
    // A repeated pair keeps its first (lowest) rank, as HF does.
    model->merges_.try_emplace(PairKey(*a, *b), Merge{static_cast<int32_t>(rank), *merged});
  }

  if (model->options_.unk_token) {
    model->unk_id_ = model->TokenToId(*model->options_.unk_token);
    if (!model->unk_id_) {
      return absl::InvalidArgumentError(
          absl::StrCat("unk_token '", *model->options_.unk_token, "' is not in the vocab"));
    }
  }
  if (model->options_.byte_fallback) {
    model->byte_fallback_ids_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (auto id = model->TokenToId(name)) model->byte_fallback_ids_[b] = *id;
    }
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(absl::string_view token) const {
  auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_token_[id]) return nullptr;
  return &id_to_token_[id];
}

// One symbol per character; characters outside the vocabulary go to byte
// fallback, then to unk, else are dropped (HF's BPE does the same).
void BpeModel::InitialSymbols(absl::string_view piece, std::vector<int32_t>* symbols) const {
  bool last_was_unk = false;
  for (size_t pos = 0; pos < piece.size();) {
    const uint32_t length = unicode::DecodeUtf8(piece, pos).length;
    const absl::string_view ch = piece.substr(pos, length);
    pos += length;
    if (auto id = TokenToId(ch)) {
      symbols->push_back(*id);
      last_was_unk = false;
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes = true;
      for (const char c : ch) all_bytes = all_bytes && byte_fallback_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes) {
        for (const char c : ch) symbols->push_back(byte_fallback_ids_[static_cast<unsigned char>(c)]);
        last_was_unk = false;
        continue;
      }
    }
    if (unk_id_ && !(options_.fuse_unk && last_was_unk)) symbols->push_back(*unk_id_);
    last_was_unk = unk_id_.has_value();
  }
}

// HF's Word::merge_all: a min-heap of candidate merges keyed by (rank,
// position); stale candidates (a side already merged away) are skipped.
void BpeModel::MergeWord(std::vector<int32_t>* symbols) const {
  const size_t n = symbols->size();
  if (n < 2) return;
  std::vector<int32_t>& sym = *symbols;
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  const auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    auto it = merges_.find(PairKey(sym[pos], sym[next[pos]]));
    if (it != merges_.end()) heap.push({it->second.rank, pos, sym[pos], sym[next[pos]], it->second.merged_id});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));

  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int32_t right = next[c.pos];
    if (!alive[c.pos] || right < 0 || sym[c.pos] != c.left_id || sym[right] != c.right_id) continue;
    sym[c.pos] = c.merged_id;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (alive[i]) sym[out++] = sym[i];
  }
  sym.resize(out);
}

void BpeModel::Tokenize(absl::string_view piece, std::vector<int32_t>* ids) const {
  if (options_.ignore_merges) {
    if (auto id = TokenToId(piece)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  InitialSymbols(piece, &symbols);
  MergeWord(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(piece, std::move(symbols));
  }
}

}  // namespace tunefleet
