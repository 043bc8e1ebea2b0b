#pragma once
// Watches this rank's checkpoint writer as it writes. Production installs
// none; a test build of the trainer installs one (tests/testing/) to hold a
// writer mid-file so that a test can kill the rank there.

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace tunefleet {

class CheckpointWriteObserver {
 public:
  virtual ~CheckpointWriteObserver() = default;
  // On the writer's thread, as `file` of the save of `step` has `bytes`
  // written; an error fails that save.
  virtual absl::Status Wrote(int64_t step, const std::string& file, uint64_t bytes) = 0;
};

}  // namespace tunefleet
