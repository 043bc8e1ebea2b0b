// NVML discovery against a fake libnvidia-ml (fake_nvml.cc) loaded the way the
// real one is: dlopen by path, symbols by name.

#include "worker/gpus/nvml_gpu_inventory.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace tunefleet::worker {
namespace {

class NvmlGpuInventoryTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("TUNEFLEET_FAKE_NVML_GPUS");
    unsetenv("TUNEFLEET_FAKE_NVML_FAIL");
  }
};

TEST_F(NvmlGpuInventoryTest, NoLibraryIsNotFound) {
  auto inventory = OpenNvmlInventory("/nonexistent/libnvidia-ml.so.1");
  EXPECT_EQ(inventory.status().code(), absl::StatusCode::kNotFound) << inventory.status();
}

TEST_F(NvmlGpuInventoryTest, ListsGpusInIndexOrderAndSamplesThem) {
  setenv("TUNEFLEET_FAKE_NVML_GPUS", "2", 1);
  auto inventory = OpenNvmlInventory(TUNEFLEET_FAKE_NVML);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  const auto& devices = (*inventory)->Devices();
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].index(), 0);
  EXPECT_EQ(devices[0].uuid(), "GPU-fake-0");
  EXPECT_EQ(devices[1].uuid(), "GPU-fake-1");
  EXPECT_EQ(devices[1].model(), "Fake GPU");
  EXPECT_EQ(devices[1].memory_bytes(), int64_t{80} << 30);

  auto sample = (*inventory)->Sample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  ASSERT_EQ(sample->size(), 2u);
  const GpuStatus& second = (*sample)[1];
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(second.uuid, "GPU-fake-1");
  EXPECT_DOUBLE_EQ(second.utilization_ratio.value_or(-1), 0.5);  // NVML's percent as a ratio
  EXPECT_EQ(second.memory_used_bytes.value_or(-1), int64_t{2} << 30);
  EXPECT_EQ(second.memory_total_bytes.value_or(-1), int64_t{80} << 30);
}

TEST_F(NvmlGpuInventoryTest, ZeroGpusIsAnEmptyInventory) {
  setenv("TUNEFLEET_FAKE_NVML_GPUS", "0", 1);
  auto inventory = OpenNvmlInventory(TUNEFLEET_FAKE_NVML);
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  EXPECT_TRUE((*inventory)->Devices().empty());
}

TEST_F(NvmlGpuInventoryTest, AFailingDriverIsAnErrorThatSaysWhy) {
  setenv("TUNEFLEET_FAKE_NVML_FAIL", "1", 1);
  auto inventory = OpenNvmlInventory(TUNEFLEET_FAKE_NVML);
  ASSERT_FALSE(inventory.ok());
  EXPECT_NE(inventory.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(inventory.status().message(), "nvmlInit_v2: Driver Not Loaded");
}

}  // namespace
}  // namespace tunefleet::worker
