#include "common/json_integer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace tunefleet {
namespace {

using nlohmann::json;

TEST(JsonInteger, TakesIntegersTheTypeHolds) {
  EXPECT_EQ(JsonInteger<int>(json(-5), "k"), -5);
  EXPECT_EQ(JsonInteger<int64_t>(json(std::numeric_limits<int64_t>::max()), "k"),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(JsonInteger<uint64_t>(json(std::numeric_limits<uint64_t>::max()), "k"),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(JsonIntegerAt<int32_t>(json::parse(R"({"id": 7})"), "id"), 7);
}

TEST(JsonInteger, RefusesFloatsOutOfRangeAndOtherTypesNamingTheKey) {
  for (const json& bad : {json(1e300), json(-1e300), json(1.5), json(std::numeric_limits<double>::quiet_NaN()),
                          json("3"), json(nullptr), json(true)}) {
    try {
      (void)JsonInteger<int64_t>(bad, "step");
      ADD_FAILURE() << bad.dump();
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("\"step\""), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW((void)JsonInteger<int>(json(int64_t{1} << 40), "rank"), std::out_of_range);
  EXPECT_THROW((void)JsonInteger<uint64_t>(json(-1), "size_bytes"), std::out_of_range);
  EXPECT_THROW((void)JsonInteger<int64_t>(json(std::numeric_limits<uint64_t>::max()), "k"), std::out_of_range);
}

}  // namespace
}  // namespace tunefleet
