#include "worker/agent/generation_fence.h"

#include <gtest/gtest.h>

namespace tunefleet::worker {
namespace {

TEST(GenerationFence, RefusesOlderGenerationsPerJob) {
  GenerationFence fence;
  EXPECT_TRUE(fence.Admit("jobs/a", 3));
  EXPECT_TRUE(fence.Admit("jobs/a", 3));  // the same attempt again: idempotent
  EXPECT_TRUE(fence.Admit("jobs/a", 5));
  EXPECT_FALSE(fence.Admit("jobs/a", 4));
  EXPECT_EQ(fence.Newest("jobs/a"), 5);
  EXPECT_TRUE(fence.Admit("jobs/b", 1));  // jobs are fenced independently
}

}  // namespace
}  // namespace tunefleet::worker
