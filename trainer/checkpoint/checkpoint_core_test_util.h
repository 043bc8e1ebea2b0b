#pragma once
// Helpers for the checkpoint tests: a temp root that cleans itself up,
// committed checkpoints made of raw files (no torch), and damage.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/manifest.h"

namespace tunefleet::testing {

// A fresh directory for the running test, removed with the object.
class ScopedTestRoot {
 public:
  ScopedTestRoot();
  ~ScopedTestRoot();
  ScopedTestRoot(const ScopedTestRoot&) = delete;
  ScopedTestRoot& operator=(const ScopedTestRoot&) = delete;

  const std::string& path() const { return path_; }
  CheckpointRoot Job(const std::string& job = "job") const { return CheckpointRoot{path_, job}; }

 private:
  std::string path_;
};

// Every rank writes one file of `bytes_per_rank` pseudo-random bytes
// ("data-rank-<r>.bin") and its record, then rank 0 commits.
absl::StatusOr<Manifest> WriteRawCheckpoint(const CheckpointRoot& root, int64_t step, int world_size = 2,
                                            size_t bytes_per_rank = 4096);

// Damage: XOR one byte with 0x01; cut a file to `size` bytes.
void FlipByte(const std::string& path, uint64_t offset);
void TruncateFile(const std::string& path, uint64_t size);

}  // namespace tunefleet::testing
