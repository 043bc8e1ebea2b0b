#pragma once
// Deterministic shuffling, bit-identical on every platform and compiler.
//
// std::shuffle and std::uniform_int_distribution are implementation-defined
// (libstdc++ and libc++ draw differently), so a resumed or re-placed job
// could see another order. Everything here is plain uint64 arithmetic:
// SplitMix64 as the generator, rejection sampling for bounded draws, and
// Fisher-Yates for permutations.

#include <cstdint>
#include <vector>

namespace tunefleet {

// SplitMix64 (Steele, Lea, Flood 2014; the seeder of xoshiro): passes
// BigCrush, one add and three multiply-xorshifts per draw, any seed is good.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, bound) for bound >= 1, without modulo bias: draws below
  // 2^64 mod bound are rejected (at most one in two draws, for huge bounds).
  uint64_t Below(uint64_t bound);

 private:
  uint64_t state_;
};

// The SplitMix64 output function: a bijective 64-bit mix (for hashing).
uint64_t Mix64(uint64_t x);

// Independent streams from one user seed: what a stream is for (`purpose`,
// a constant per use) and its index (an epoch) are hashed in, so the
// validation split, the packing order and each epoch's order do not
// correlate with each other.
uint64_t DeriveSeed(uint64_t seed, uint64_t purpose, uint64_t index = 0);

// A uniformly random permutation of 0..n-1 (Fisher-Yates, high index down).
std::vector<int64_t> RandomPermutation(int64_t n, uint64_t seed);

// Stream purposes for DeriveSeed, fixed forever: changing one changes every
// job's data order.
inline constexpr uint64_t kSeedPurposeValidationSplit = 1;
inline constexpr uint64_t kSeedPurposePackingOrder = 2;
inline constexpr uint64_t kSeedPurposeEpochOrder = 3;
inline constexpr uint64_t kSeedPurposeTaskDraw = 4;        // multi-task: which task a slot reads
inline constexpr uint64_t kSeedPurposeTaskEpochOrder = 5;  // multi-task: a task's own epoch orders

}  // namespace tunefleet
