#include "trainer/checkpoint/checkpoint_core_test_util.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/child_process.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/commit.h"

namespace tunefleet::testing {

ScopedTestRoot::ScopedTestRoot() : path_(FreshTestDirectory()) {}

ScopedTestRoot::~ScopedTestRoot() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<Manifest> WriteRawCheckpoint(const CheckpointRoot& root, int64_t step, int world_size,
                                            size_t bytes_per_rank) {
  const std::string dir = root.StepDirectory(step);
  std::filesystem::create_directories(dir);
  std::mt19937 random(static_cast<uint32_t>(step));
  for (int rank = 0; rank < world_size; ++rank) {
    std::string bytes(bytes_per_rank, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    absl::StatusOr<FileRecord> file = WriteFileWithChecksum(dir, absl::StrCat("data-rank-", rank, ".bin"), bytes);
    if (!file.ok()) return file.status();
    RankFilesRecord record;
    record.rank = rank;
    record.world_size = world_size;
    record.step = step;
    record.save_id = absl::StrCat("save-", step);
    record.files.push_back(*file);
    if (absl::Status s = PublishRankFiles(dir, record); !s.ok()) return s;
  }
  CommitRequest request;
  request.step = step;
  request.world_size = world_size;
  request.save_id = absl::StrCat("save-", step);
  return CommitManifest(root, request);
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x01);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

void TruncateFile(const std::string& path, uint64_t size) {
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(size)), 0) << path;
}

}  // namespace tunefleet::testing
