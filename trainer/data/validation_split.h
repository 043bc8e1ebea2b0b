#pragma once
// Holding a fraction of a dataset out for validation, by seed.
//
// Records (lines), not packed sequences, are held out, before tokenization
// and packing, so no example is split between the two sets.

#include <cstdint>
#include <vector>

namespace tunefleet {

struct SplitIndices {
  std::vector<int64_t> train;       // ascending (file order)
  std::vector<int64_t> validation;  // ascending (file order)
};

// Holds out round(n * fraction) of 0..n-1, chosen by `seed`: at least one
// when fraction > 0, and never all (at least one stays for training), so a
// tiny dataset still trains. fraction <= 0 or n < 2 holds out nothing.
SplitIndices HoldOut(int64_t n, double fraction, uint64_t seed);

}  // namespace tunefleet
