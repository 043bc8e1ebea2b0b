#include "demo/demo_data.h"

#include <set>
#include <utility>

#include <gtest/gtest.h>

namespace tunefleet::demo {
namespace {

TEST(DemoData, DeterministicAndSplitsAreDisjoint) {
  const DemoData a = GenerateDemoData(7), b = GenerateDemoData(7);
  ASSERT_EQ(a.test.size(), 200u);
  ASSERT_EQ(a.validation.size(), 100u);
  ASSERT_EQ(a.train.size(), 2000u);
  EXPECT_EQ(a.pretrain_texts, b.pretrain_texts);
  std::set<std::pair<int, int>> seen;
  for (const auto* split : {&a.train, &a.validation, &a.test}) {
    for (const auto& q : *split) {
      EXPECT_TRUE(seen.insert({q.a, q.b}).second) << q.a << "+" << q.b << " in two splits";
      EXPECT_EQ(q.answer, std::to_string(q.a) + " + " + std::to_string(q.b) + " = " + std::to_string(q.a + q.b));
      EXPECT_NE(q.prompt.find(std::to_string(q.a)), std::string::npos);
    }
  }
  EXPECT_NE(GenerateDemoData(8).test[0].prompt + GenerateDemoData(8).test[1].prompt,
            a.test[0].prompt + a.test[1].prompt);
}

}  // namespace
}  // namespace tunefleet::demo
