#include "common/lineage/lineage.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class LineageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("lineage-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "model/sub");
    Write(dir_ / "model/config.json", "{}");
    Write(dir_ / "model/weights.bin", "abc");
    Write(dir_ / "model/.hidden", "not hashed");
    Write(dir_ / "model/sub/ignored", "sub-folders are not read");
    Write(dir_ / "blob", "tokenizer");
    fs::create_symlink(dir_ / "blob", dir_ / "model/tokenizer.json");  // as a Hugging Face cache links
    Write(dir_ / "train.jsonl", "{\"text\": \"a\"}\n");
    spec_.mutable_model()->set_path((dir_ / "model").string());
    spec_.mutable_dataset()->set_path((dir_ / "train.jsonl").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  v1::JobSpec spec_;
};

TEST_F(LineageTest, HashesEveryModelFileByNameThenTheDataAndTheSpec) {
  auto lineage = ComputeLineage(spec_);
  ASSERT_TRUE(lineage.ok()) << lineage.status();
  ASSERT_EQ(lineage->inputs.size(), 4u);
  EXPECT_EQ(lineage->inputs[0].path, (dir_ / "model/config.json").string());
  EXPECT_EQ(lineage->inputs[1].path, (dir_ / "model/tokenizer.json").string());
  EXPECT_EQ(lineage->inputs[1].size_bytes, 9u);
  EXPECT_EQ(lineage->inputs[2].path, (dir_ / "model/weights.bin").string());
  // SHA-256("abc"), FIPS 180-2's example.
  EXPECT_EQ(lineage->inputs[2].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(lineage->inputs[3].role, "dataset");
  EXPECT_EQ(lineage->spec_sha256.size(), 64u);
  EXPECT_FALSE(lineage->tunefleet_version.empty());

  v1::JobSpec other = spec_;
  other.mutable_hyperparameters()->set_max_steps(7);
  auto changed_spec = ComputeLineage(other);
  ASSERT_TRUE(changed_spec.ok());
  EXPECT_NE(changed_spec->spec_sha256, lineage->spec_sha256);
  EXPECT_TRUE(CheckSameInputs(*lineage, *changed_spec).ok()) << "a changed spec alone is no changed input";
}

TEST_F(LineageTest, AChangedDatasetIsNamedWithBothHashes) {
  auto before = ComputeLineage(spec_);
  ASSERT_TRUE(before.ok());
  Write(dir_ / "train.jsonl", "{\"text\": \"b\"}\n");
  auto after = ComputeLineage(spec_);
  ASSERT_TRUE(after.ok());
  const absl::Status same = CheckSameInputs(*before, *after);
  EXPECT_EQ(same.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(same.message(), HasSubstr("dataset file " + (dir_ / "train.jsonl").string() + " changed"));
  EXPECT_THAT(same.message(), HasSubstr(before->inputs.back().sha256.substr(0, 16)));

  // A model file removed, or one added, is a changed input too.
  fs::remove(dir_ / "model/config.json");
  auto fewer = ComputeLineage(spec_);
  ASSERT_TRUE(fewer.ok());
  EXPECT_THAT(CheckSameInputs(*after, *fewer).message(), HasSubstr("config.json"));
  EXPECT_THAT(CheckSameInputs(*fewer, *after).message(), HasSubstr("was not among the checkpoint's inputs"));
}

TEST_F(LineageTest, JsonRoundTripsAndDamageIsNamed) {
  auto lineage = ComputeLineage(spec_);
  ASSERT_TRUE(lineage.ok());
  auto back = LineageFromJson(LineageToJson(*lineage), "x.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(LineageToJson(*back), LineageToJson(*lineage));
  for (const char* bad : {"", "[]", "{\"tunefleet_version\": 1}", "{\"tunefleet_version\": \"v\", \"spec_sha256\": \"s\"}",
                          R"({"tunefleet_version": "v", "spec_sha256": "s", "inputs": [{"role": "model"}]})",
                          R"({"tunefleet_version": "v", "spec_sha256": "s", "inputs": [{"role": "m", "path": "p", "sha256": "h", "size_bytes": -1}]})"}) {
    auto parsed = LineageFromJson(bad, "x.json");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(parsed.status().message(), HasSubstr("x.json"));
  }
}

TEST_F(LineageTest, AMissingInputIsAnError) {
  spec_.mutable_dataset()->set_validation_path((dir_ / "nope.jsonl").string());
  auto lineage = ComputeLineage(spec_);
  ASSERT_FALSE(lineage.ok());
  EXPECT_THAT(lineage.status().message(), HasSubstr("nope.jsonl"));
}

}  // namespace
}  // namespace tunefleet
