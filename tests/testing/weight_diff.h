#pragma once
// Comparing two exported models: the largest absolute difference between
// same-named F32 tensors of two .safetensors files. Fails the running test
// (and returns infinity) when the files differ in names, dtype or size.

#include <string>

namespace tunefleet::testing {

double MaxWeightDiff(const std::string& a_path, const std::string& b_path);

}  // namespace tunefleet::testing
