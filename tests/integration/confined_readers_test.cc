// The trainer's readers and writers open through the installed path policy
// (common/fs/process_path_policy.h): a link inside a root that leads out is
// refused by each of them, not only by the first check of the spec's fields.
// Torch-free: the data, tokenizer, GGUF and safetensors components.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/fs/process_path_policy.h"
#include "tests/testing/child_process.h"
#include "trainer/data/jsonl_reader.h"
#include "trainer/gguf/gguf_file.h"
#include "trainer/safetensors/safetensors_reader.h"
#include "trainer/safetensors/safetensors_writer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ConfinedReadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = testing::FreshTestDirectory();
    root_ = base + "/root";
    outside_ = base + "/outside";
    fs::create_directories(root_);
    fs::create_directories(outside_);
    std::ofstream(root_ + "/data.jsonl") << "{\"text\": \"fine\"}\n";
    std::ofstream(outside_ + "/data.jsonl") << "{\"text\": \"another team's\"}\n";
    std::ofstream(outside_ + "/tokenizer.json") << "{}";
    std::ofstream(outside_ + "/model.gguf") << "GGUF";
    const float x = 1;
    ASSERT_TRUE(WriteSafetensors(outside_ + "/w.safetensors", {{"x", SafetensorsDType::kF32, {1}, &x, 4}}).ok());
    for (const char* name : {"data.jsonl", "tokenizer.json", "model.gguf", "w.safetensors"}) {
      fs::create_symlink(outside_ + "/" + name, root_ + "/link-" + name);
    }
    fs::create_directory_symlink(outside_, root_ + "/escape");
    auto policy = PathPolicy::Confined({root_});
    ASSERT_TRUE(policy.ok()) << policy.status();
    InstallPathPolicy(std::make_shared<PathPolicy>(*std::move(policy)));
  }
  void TearDown() override { InstallPathPolicy(nullptr); }

  void ExpectEscapeRefused(const absl::Status& status, const std::string& path) {
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
    EXPECT_THAT(status.message(), HasSubstr("\"" + path + "\" leads outside the allowed roots"));
  }

  std::string root_, outside_;
};

TEST_F(ConfinedReadersTest, EachReaderRefusesALinkOutOfTheRoots) {
  ASSERT_TRUE(ReadJsonlFile(root_ + "/data.jsonl", v1::DATASET_FORMAT_TEXT).ok());  // inside: fine
  ExpectEscapeRefused(ReadJsonlFile(root_ + "/link-data.jsonl", v1::DATASET_FORMAT_TEXT).status(),
                      root_ + "/link-data.jsonl");
  ExpectEscapeRefused(Tokenizer::FromFile(root_ + "/link-tokenizer.json").status(), root_ + "/link-tokenizer.json");
  ExpectEscapeRefused(GgufFile::Open(root_ + "/link-model.gguf").status(), root_ + "/link-model.gguf");
  EXPECT_FALSE(IsGgufFile(root_ + "/link-model.gguf"));
  ExpectEscapeRefused(SafetensorsFile::Open(root_ + "/link-w.safetensors").status(), root_ + "/link-w.safetensors");
  ExpectEscapeRefused(SafetensorsFile::Open(root_ + "/escape/w.safetensors").status(), root_ + "/escape/w.safetensors");
}

TEST_F(ConfinedReadersTest, WritersCannotWriteThroughALinkedFolder) {
  const float x = 2;
  const absl::Status status = WriteSafetensors(root_ + "/escape/new.safetensors", {{"x", SafetensorsDType::kF32, {1}, &x, 4}});
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_FALSE(fs::exists(outside_ + "/new.safetensors"));
  EXPECT_TRUE(WriteSafetensors(root_ + "/new.safetensors", {{"x", SafetensorsDType::kF32, {1}, &x, 4}}).ok());
}

TEST_F(ConfinedReadersTest, AFifoOrADeviceIsNotADataset) {
  ASSERT_EQ(mkfifo((root_ + "/fifo.jsonl").c_str(), 0600), 0);
  // Returns at once (the open is non-blocking), rather than waiting for a writer.
  const absl::Status fifo = ReadJsonlFile(root_ + "/fifo.jsonl", v1::DATASET_FORMAT_TEXT).status();
  EXPECT_EQ(fifo.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fifo.message(), HasSubstr("is a FIFO, not a regular file"));
  EXPECT_THAT(ReadJsonlFile("/dev/zero", v1::DATASET_FORMAT_TEXT).status().message(), HasSubstr("is in /dev"));
}

}  // namespace
}  // namespace tunefleet
