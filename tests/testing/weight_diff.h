#pragma once
// Comparing two exported models: the largest absolute difference between
// same-named F32 tensors of two .safetensors files. Fails the running test
// (and returns infinity) when the files differ in names, dtype or size.

#include <string>

namespace tunefleet::testing {

double MaxWeightDiff(const std::string& a_path, const std::string& b_path);

// Two bf16 exports: two fp32 masters a hair apart may round to neighbouring
// bf16 values, so each element's difference is measured beyond one bf16
// step (ulp, the spacing at max(|a|, |b|)).
struct Bf16WeightDiff {
  double max_beyond_ulp = 0;       // max over elements of max(0, |a - b| - ulp)
  double fraction_beyond_ulp = 0;  // elements with |a - b| > ulp, over all
};
Bf16WeightDiff CompareBf16Weights(const std::string& a_path, const std::string& b_path);

}  // namespace tunefleet::testing
