#include "trainer/train/training_device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

v1::JobSpec WithGpus(int gpus) {
  v1::JobSpec spec;
  spec.mutable_resources()->set_gpus_per_rank(gpus);
  return spec;
}

int NoGpu() { return 0; }
int OneGpu() { return 1; }
int FourGpus() { return 4; }

TEST(TrainingDeviceTest, NoGpusAskedTrainsOnTheCpu) {
  auto device = TrainingDevice(WithGpus(0), 3, FourGpus);
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_TRUE(device->is_cpu());
}

TEST(TrainingDeviceTest, GpusAskedButNoneVisibleIsAnErrorNotTheCpu) {
  auto device = TrainingDevice(WithGpus(1), 0, NoGpu);
  EXPECT_EQ(device.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(device.status().message(), HasSubstr("resources.gpus_per_rank is 1"));
  // This CPU build of libtorch sees no GPU: the real probe says so too.
  if (VisibleCudaDevices() == 0) {
    EXPECT_FALSE(TrainingDevice(WithGpus(1), 0).ok());
  }
}

TEST(TrainingDeviceTest, LocalRankPicksAmongTheVisibleGpus) {
  // The worker shows each rank its own GPU: always index 0.
  auto own = TrainingDevice(WithGpus(1), 5, OneGpu);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_TRUE(own->is_cuda());
  EXPECT_EQ(own->index(), 0);
  // torchrun shows every GPU of the node: LOCAL_RANK chooses.
  auto chosen = TrainingDevice(WithGpus(1), 2, FourGpus);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->index(), 2);
}

TEST(TrainingDeviceTest, MoreThanOneGpuPerRankIsRefused) {
  EXPECT_EQ(TrainingDevice(WithGpus(2), 0, FourGpus).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tunefleet
