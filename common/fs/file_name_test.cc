#include "common/fs/file_name.h"

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

TEST(SanitizeFileName, HostileDisplayNamesBecomeOneHarmlessComponent) {
  EXPECT_EQ(SanitizeFileName("demo-lora_v1.2"), "demo-lora_v1.2");
  EXPECT_EQ(SanitizeFileName("../../etc/cron.d/x"), "_.._etc_cron.d_x");
  EXPECT_EQ(SanitizeFileName(".."), "job");
  EXPECT_EQ(SanitizeFileName(".hidden"), "hidden");
  EXPECT_EQ(SanitizeFileName("/abs/path"), "_abs_path");
  EXPECT_EQ(SanitizeFileName("a\nb\x1b[31m c"), "a_b__31m_c");
  EXPECT_EQ(SanitizeFileName(""), "job");
  EXPECT_EQ(SanitizeFileName(std::string(300, 'x')).size(), 100u);
  EXPECT_EQ(SanitizeFileName("\xc3\xa9t\xc3\xa9"), "__t__");
}

}  // namespace
}  // namespace tunefleet
