#include "trainer/data/validation_split.h"

#include <algorithm>
#include <cmath>

#include "trainer/data/shuffle.h"

namespace tunefleet {

SplitIndices HoldOut(int64_t n, double fraction, uint64_t seed) {
  SplitIndices split;
  int64_t held = 0;
  if (fraction > 0 && n >= 2) {
    // One IEEE multiply and a round: the same count on every platform.
    held = std::clamp<int64_t>(std::llround(static_cast<double>(n) * fraction), 1, n - 1);
  }
  std::vector<int64_t> perm = RandomPermutation(n, DeriveSeed(seed, kSeedPurposeValidationSplit));
  split.validation.assign(perm.begin(), perm.begin() + held);
  split.train.assign(perm.begin() + held, perm.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

}  // namespace tunefleet
