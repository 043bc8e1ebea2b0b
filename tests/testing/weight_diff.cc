#include "tests/testing/weight_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

Bf16WeightDiff CompareBf16Weights(const std::string& a_path, const std::string& b_path) {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  const Bf16WeightDiff failed{kInfinity, 1.0};
  auto a = SafetensorsFile::Open(a_path);
  auto b = SafetensorsFile::Open(b_path);
  EXPECT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(b.ok()) << b.status();
  if (!a.ok() || !b.ok()) return failed;
  EXPECT_EQ((*a)->names(), (*b)->names());
  const auto widen = [](const uint8_t* p) {  // bf16 is the top half of an fp32
    uint16_t half;
    std::memcpy(&half, p, sizeof(half));
    const uint32_t bits = static_cast<uint32_t>(half) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return static_cast<double>(f);
  };
  double worst = 0;
  int64_t total = 0, beyond = 0;
  for (const TensorView& ta : (*a)->tensors()) {
    const TensorView* tb = (*b)->Find(ta.name);
    EXPECT_NE(tb, nullptr) << ta.name;
    if (tb == nullptr) return failed;
    EXPECT_EQ(ta.dtype, SafetensorsDType::kBF16) << ta.name;
    EXPECT_EQ(tb->dtype, SafetensorsDType::kBF16) << ta.name;
    EXPECT_EQ(ta.size_bytes, tb->size_bytes) << ta.name;
    if (ta.size_bytes != tb->size_bytes || ta.dtype != SafetensorsDType::kBF16) return failed;
    for (size_t i = 0; i < ta.size_bytes / 2; ++i) {
      const double x = widen(ta.data + 2 * i), y = widen(tb->data + 2 * i);
      const double big = std::max(std::abs(x), std::abs(y));
      // 8 significant bits: the spacing in [2^e, 2^(e+1)) is 2^(e-7).
      const double ulp = big > 0 ? std::ldexp(1.0, std::ilogb(big) - 7) : 0.0;
      worst = std::max(worst, std::abs(x - y) - ulp);
      ++total;
      beyond += std::abs(x - y) > ulp;
    }
  }
  return Bf16WeightDiff{worst, total > 0 ? static_cast<double>(beyond) / static_cast<double>(total) : 0.0};
}

}  // namespace tunefleet::testing
