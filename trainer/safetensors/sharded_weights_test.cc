// One lookup over a sharded checkpoint, and the errors for a broken index.

#include "trainer/safetensors/sharded_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trainer/safetensors/safetensors_test_util.h"
#include "trainer/safetensors/safetensors_writer.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing_util::NewTempDir;
using testing_util::RawSafetensors;
using testing_util::WriteBytes;

// Writes one U8 tensor per name, each holding its name's first byte twice.
void WriteShard(const std::string& path, const std::vector<std::string>& names) {
  std::vector<std::string> payloads;
  for (const std::string& name : names) payloads.push_back(std::string(2, name[0]));
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < names.size(); ++i) {
    tensors.push_back({names[i], SafetensorsDType::kU8, {2}, payloads[i].data(), 2});
  }
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
}

constexpr char kIndex[] = R"({
  "metadata": {"total_size": 6},
  "weight_map": {
    "a": "model-00001-of-00002.safetensors",
    "b": "model-00001-of-00002.safetensors",
    "c": "model-00002-of-00002.safetensors"
  }
})";

class SafetensorsShardedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteShard(dir_ + "/model-00001-of-00002.safetensors", {"a", "b"});
    WriteShard(dir_ + "/model-00002-of-00002.safetensors", {"c"});
  }
  std::string dir_ = NewTempDir();
  std::string index_ = dir_ + "/model.safetensors.index.json";
};

TEST_F(SafetensorsShardedTest, OneLookupOverAllShards) {
  WriteBytes(index_, kIndex);
  absl::StatusOr<std::unique_ptr<ShardedWeights>> weights = ShardedWeights::OpenIndex(index_);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ((*weights)->names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ((*weights)->shards().size(), 2u);
  EXPECT_EQ((*weights)->metadata().at("total_size"), "6");
  for (const std::string name : {"a", "b", "c"}) {
    absl::StatusOr<const TensorView*> view = (*weights)->Get(name);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ((*view)->bytes(), std::string(2, name[0]));
  }
  EXPECT_THAT((*weights)->Get("c").value()->file, HasSubstr("model-00002-of-00002.safetensors"));
  absl::StatusOr<const TensorView*> missing = (*weights)->Get("d");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("'d'"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(index_));
}

TEST_F(SafetensorsShardedTest, MissingShardFile) {
  WriteBytes(index_, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                         "z": "model-00009-of-00009.safetensors"}})");
  absl::StatusOr<std::unique_ptr<ShardedWeights>> weights = ShardedWeights::OpenIndex(index_);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kNotFound);
  const std::string message(weights.status().message());
  EXPECT_THAT(message, HasSubstr(index_));
  EXPECT_THAT(message, HasSubstr("model-00009-of-00009.safetensors"));
  EXPECT_THAT(message, HasSubstr("'z'"));
}

TEST_F(SafetensorsShardedTest, TensorListedButMissingFromItsShard) {
  WriteBytes(index_, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                         "c": "model-00001-of-00002.safetensors"}})");
  absl::StatusOr<std::unique_ptr<ShardedWeights>> weights = ShardedWeights::OpenIndex(index_);
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kNotFound);
  const std::string message(weights.status().message());
  EXPECT_THAT(message, HasSubstr(index_));
  EXPECT_THAT(message, HasSubstr("tensor 'c'"));
  EXPECT_THAT(message, HasSubstr("model-00001-of-00002.safetensors"));
}

TEST_F(SafetensorsShardedTest, MalformedIndex) {
  for (const char* text : {"{", "[]", R"({"weight_map": []})", R"({"weight_map": {"a": 1}})",
                           R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})",
                           R"({"weight_map": {"a": "/etc/passwd"}})"}) {
    WriteBytes(index_, text);
    absl::StatusOr<std::unique_ptr<ShardedWeights>> weights = ShardedWeights::OpenIndex(index_);
    ASSERT_FALSE(weights.ok()) << text;
    EXPECT_EQ(weights.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(weights.status().message()), HasSubstr(index_));
  }
}

TEST_F(SafetensorsShardedTest, CorruptShardNamesIndexShardAndTensor) {
  WriteBytes(dir_ + "/bad.safetensors", RawSafetensors(R"({"x":{"dtype":"Q4"}})", ""));
  WriteBytes(index_, R"({"weight_map": {"x": "bad.safetensors"}})");
  absl::StatusOr<std::unique_ptr<ShardedWeights>> weights = ShardedWeights::OpenIndex(index_);
  ASSERT_FALSE(weights.ok());
  const std::string message(weights.status().message());
  EXPECT_THAT(message, HasSubstr(index_));
  EXPECT_THAT(message, HasSubstr(dir_ + "/bad.safetensors"));
  EXPECT_THAT(message, HasSubstr("tensor 'x'"));
}

TEST_F(SafetensorsShardedTest, ModelDirectoryPrefersTheSingleFileThenTheIndex) {
  absl::StatusOr<std::unique_ptr<ShardedWeights>> none = OpenModelWeights(dir_);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr(dir_));

  WriteBytes(index_, kIndex);
  absl::StatusOr<std::unique_ptr<ShardedWeights>> sharded = OpenModelWeights(dir_);
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  EXPECT_EQ((*sharded)->source(), index_);
  EXPECT_EQ((*sharded)->names().size(), 3u);

  WriteShard(dir_ + "/model.safetensors", {"only"});
  absl::StatusOr<std::unique_ptr<ShardedWeights>> single = OpenModelWeights(dir_);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ((*single)->source(), dir_ + "/model.safetensors");
  EXPECT_EQ((*single)->names(), std::vector<std::string>{"only"});
  EXPECT_EQ((*single)->Get("only").value()->bytes(), "oo");
}

}  // namespace
}  // namespace tunefleet
