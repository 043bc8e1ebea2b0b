#include "tests/testing/weight_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "trainer/safetensors/safetensors_reader.h"

namespace tunefleet::testing {

double MaxWeightDiff(const std::string& a_path, const std::string& b_path) {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  auto a = SafetensorsFile::Open(a_path);
  auto b = SafetensorsFile::Open(b_path);
  EXPECT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(b.ok()) << b.status();
  if (!a.ok() || !b.ok()) return kInfinity;
  EXPECT_EQ((*a)->names(), (*b)->names());
  double worst = 0;
  for (const TensorView& ta : (*a)->tensors()) {
    const TensorView* tb = (*b)->Find(ta.name);
    EXPECT_NE(tb, nullptr) << ta.name;
    if (tb == nullptr) return kInfinity;
    EXPECT_EQ(ta.dtype, SafetensorsDType::kF32) << ta.name;
    EXPECT_EQ(ta.size_bytes, tb->size_bytes) << ta.name;
    if (ta.size_bytes != tb->size_bytes) return kInfinity;
    for (size_t i = 0; i < ta.size_bytes / sizeof(float); ++i) {
      float x, y;
      std::memcpy(&x, ta.data + i * sizeof(float), sizeof(float));
      std::memcpy(&y, tb->data + i * sizeof(float), sizeof(float));
      worst = std::max(worst, std::abs(static_cast<double>(x) - y));
    }
  }
  return worst;
}

}  // namespace tunefleet::testing
