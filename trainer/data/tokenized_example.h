#pragma once
// A tokenized example: ids and, per id, whether the model is trained to
// predict it. Labels are derived from this when sequences are laid out
// (packer.h), so truncation and packing need no second pass.

#include <cstdint>
#include <vector>

namespace tunefleet {

struct TokenizedExample {
  std::vector<int32_t> ids;
  // loss[t] == 1: ids[t] is a target (the position before it gets it as label).
  std::vector<uint8_t> loss;

  void Append(int32_t id, bool is_target) {
    ids.push_back(id);
    loss.push_back(is_target ? 1 : 0);
  }
  void Append(const std::vector<int32_t>& more, bool is_target) {
    ids.insert(ids.end(), more.begin(), more.end());
    loss.insert(loss.end(), more.size(), is_target ? 1 : 0);
  }
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

}  // namespace tunefleet
