#include "trainer/checkpoint/crc32c.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 (iSCSI) appendix B.4 and the classic check value.
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  const std::vector<uint8_t> zeros(32, 0x00);
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  const std::vector<uint8_t> ones(32, 0xFF);
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  std::vector<uint8_t> ascending(32);
  for (size_t i = 0; i < ascending.size(); ++i) ascending[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, HardwareAndPortableAgreeAtEveryLengthAndAlignment) {
  std::mt19937 random(7);
  std::vector<uint8_t> data(4096 + 16);
  for (uint8_t& b : data) b = static_cast<uint8_t>(random());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t length : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096}) {
      EXPECT_EQ(ExtendCrc32c(0, data.data() + offset, length), ExtendCrc32cPortable(0, data.data() + offset, length))
          << "offset " << offset << " length " << length;
    }
  }
}

TEST(Crc32cTest, ExtendingInPiecesEqualsTheWhole) {
  const std::string text = "the quick brown fox jumps over the lazy dog, twice over";
  for (size_t split = 0; split <= text.size(); ++split) {
    const uint32_t first = Crc32c(text.data(), split);
    EXPECT_EQ(ExtendCrc32c(first, text.data() + split, text.size() - split), Crc32c(text.data(), text.size()));
  }
}

TEST(Crc32cTest, HexIsFixedWidth) {
  EXPECT_EQ(Crc32cHex(0xE3069283u), "e3069283");
  EXPECT_EQ(Crc32cHex(0x1u), "00000001");
}

}  // namespace
}  // namespace tunefleet
