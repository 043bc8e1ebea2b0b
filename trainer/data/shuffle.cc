#include "trainer/data/shuffle.h"

#include <cstddef>
#include <utility>

namespace tunefleet {

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ULL); }

uint64_t SplitMix64::Below(uint64_t bound) {
  // (2^64 - bound) % bound == 2^64 % bound: the draws below it are the
  // incomplete last lap of the modulo, rejected so every residue is equally likely.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = Next();
    if (r >= threshold) return r % bound;
  }
}

uint64_t DeriveSeed(uint64_t seed, uint64_t purpose, uint64_t index) {
  // Chain through the generator so each input is fully mixed before the next.
  SplitMix64 a(seed);
  SplitMix64 b(a.Next() ^ (purpose * 0xd1b54a32d192ed03ULL));
  SplitMix64 c(b.Next() ^ (index * 0x8cb92ba72f3d8dd7ULL));
  return c.Next();
}

std::vector<int64_t> RandomPermutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(n > 0 ? n : 0));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  SplitMix64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(i) + 1));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return perm;
}

}  // namespace tunefleet
