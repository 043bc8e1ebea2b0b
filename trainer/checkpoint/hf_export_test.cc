#include "trainer/checkpoint/hf_export.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checkpoint_test_state.h"
#include "trainer/checkpoint/rank_writer.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(HfExportTest, ExportsTheVerifiedWeightsWithConfigAndTokenizer) {
  testing::ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const RankCheckpointState state = testing::MakeRankState(0, 1, 100, 10, 1);
  ASSERT_TRUE(SaveCheckpoint(root, state, [] { return absl::OkStatus(); }).ok());
  absl::StatusOr<CommittedCheckpoint> checkpoint = FindNewestValidCheckpoint(root);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();

  const std::string base = std::string(TUNEFLEET_SOURCE_DIR) + "/demo/base_model";
  const std::string out = tmp.path() + "/export";
  ASSERT_TRUE(ExportCheckpointToHf(*checkpoint, base, out).ok());
  EXPECT_EQ(Slurp(out + "/model.safetensors"), Slurp(checkpoint->dir + "/model.safetensors"));
  EXPECT_EQ(Slurp(out + "/tokenizer.json"), Slurp(base + "/tokenizer.json"));
  const std::string config = Slurp(out + "/config.json");
  EXPECT_THAT(config, HasSubstr("\"model_type\": \"llama\""));
  EXPECT_THAT(config, HasSubstr("\"torch_dtype\": \"float32\""));  // model.embed_tokens.weight, the first float
}

TEST(HfExportTest, ACorruptedCheckpointIsNotExported) {
  testing::ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(SaveCheckpoint(root, testing::MakeRankState(0, 1, 100, 10, 1), [] { return absl::OkStatus(); }).ok());
  absl::StatusOr<CommittedCheckpoint> checkpoint = FindNewestValidCheckpoint(root);
  ASSERT_TRUE(checkpoint.ok());
  testing::FlipByte(checkpoint->dir + "/model.safetensors", 100);
  const absl::Status s = ExportCheckpointToHf(*checkpoint, std::string(TUNEFLEET_SOURCE_DIR) + "/demo/base_model",
                                              tmp.path() + "/export");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));
}

}  // namespace
}  // namespace tunefleet
