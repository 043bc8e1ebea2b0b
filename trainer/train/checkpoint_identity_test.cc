#include "trainer/train/checkpoint_identity.h"

#include <gtest/gtest.h>

namespace tunefleet {
namespace {

// The checkpoint folder is <checkpoint.directory>/<job>: a hostile display
// name (the fallback when no job id is given) must stay one component.
TEST(CheckpointIdentity, AHostileDisplayNameBecomesOneHarmlessFolderName) {
  EXPECT_EQ(ResolveCheckpointIdentity("", "demo-lora").job, "demo-lora");
  EXPECT_EQ(ResolveCheckpointIdentity("", "../../etc/cron.d/evil").job, "_.._etc_cron.d_evil");
  EXPECT_EQ(ResolveCheckpointIdentity("", "..").job, "job");
  EXPECT_EQ(ResolveCheckpointIdentity("", "").job, "job");
  EXPECT_EQ(ResolveCheckpointIdentity("a/../../b", "x").job, "a_.._.._b");
}

}  // namespace
}  // namespace tunefleet
