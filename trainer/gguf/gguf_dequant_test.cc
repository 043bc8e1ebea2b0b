// Dequantisation of each block type against values worked out by hand from
// ggml's block layouts (the bit-for-bit check against gguf-py on a real
// model is tests/reference/gguf).

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "trainer/gguf/gguf_dequant.h"
#include "trainer/gguf/gguf_test_writer.h"

namespace tunefleet {
namespace {

using testing::PutU16;

constexpr uint16_t kHalfOne = 0x3C00;     // 1.0
constexpr uint16_t kHalfHalf = 0x3800;    // 0.5
constexpr uint16_t kHalfMinus2 = 0xC000;  // -2.0

std::vector<float> Decode(GgmlType type, const std::string& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  const absl::Span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const absl::Status s = DequantizeToFloat(type, data, n, out.data());
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// Nibble j of 16 bytes: element j low, element j+16 high; here element i holds i % 16.
std::string Nibbles() {
  std::string qs;
  for (int j = 0; j < 16; ++j) qs.push_back(static_cast<char>(j | (j << 4)));
  return qs;
}

TEST(GgufDequant, HalfAndBFloat16) {
  EXPECT_EQ(HalfToFloat(kHalfOne), 1.0f);
  EXPECT_EQ(HalfToFloat(kHalfMinus2), -2.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7C00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_EQ(BFloat16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(0xC040), -3.0f);
}

TEST(GgufDequant, Q8_0) {
  std::string b;
  PutU16(&b, kHalfHalf);
  for (int j = 0; j < 32; ++j) b.push_back(static_cast<char>(static_cast<int8_t>(j - 16)));
  const auto v = Decode(GgmlType::kQ8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(v[j], 0.5f * static_cast<float>(j - 16)) << j;
}

TEST(GgufDequant, Q4_0) {
  std::string b;
  PutU16(&b, kHalfMinus2);
  b += Nibbles();
  const auto v = Decode(GgmlType::kQ4_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(v[j], -2.0f * static_cast<float>(j % 16 - 8)) << j;
}

TEST(GgufDequant, Q4_1) {
  std::string b;
  PutU16(&b, kHalfHalf);
  PutU16(&b, kHalfMinus2);
  b += Nibbles();
  const auto v = Decode(GgmlType::kQ4_1, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(v[j], 0.5f * static_cast<float>(j % 16) - 2.0f) << j;
}

TEST(GgufDequant, Q5_0AndQ5_1TakeTheFifthBitFromQh) {
  const uint32_t qh = 0xAAAAAAAAu;  // odd elements have the fifth bit
  std::string q5_0;
  PutU16(&q5_0, kHalfOne);
  q5_0.append(reinterpret_cast<const char*>(&qh), 4);
  q5_0 += Nibbles();
  const auto v0 = Decode(GgmlType::kQ5_0, q5_0, 32);
  std::string q5_1;
  PutU16(&q5_1, kHalfOne);
  PutU16(&q5_1, kHalfHalf);
  q5_1.append(reinterpret_cast<const char*>(&qh), 4);
  q5_1 += Nibbles();
  const auto v1 = Decode(GgmlType::kQ5_1, q5_1, 32);
  for (int j = 0; j < 32; ++j) {
    const int q = j % 16 + (j % 2 == 1 ? 16 : 0);
    EXPECT_EQ(v0[j], static_cast<float>(q - 16)) << j;
    EXPECT_EQ(v1[j], static_cast<float>(q) + 0.5f) << j;
  }
}

TEST(GgufDequant, RefusesAByteCountThatDoesNotMatch) {
  std::vector<float> out(32);
  const std::string short_block(33, '\0');
  const absl::Status s = DequantizeToFloat(
      GgmlType::kQ8_0, absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(short_block.data()), 33), 32,
      out.data());
  EXPECT_NE(s.message().find("do not hold 32 values"), std::string::npos) << s;
}

}  // namespace
}  // namespace tunefleet
