#pragma once
// Data-stream state a checkpoint must carry beyond the step: a multi-task
// mix's pick counts and probabilities (trainer/data/task_mix.h). Kept as
// entries of the trainer state's `extra` map, so checkpoints without them
// (single-dataset jobs, older versions) still load.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"

namespace tunefleet {

class CheckpointedDataState {
 public:
  virtual ~CheckpointedDataState() = default;
  // Entries to save with the checkpoint of `step` (optimizer steps done).
  virtual std::map<std::string, std::string> SaveDataState(int64_t step) const = 0;
  // Restores from a checkpoint of `step`'s extra entries; OK when none are
  // there to restore.
  virtual absl::Status RestoreDataState(const std::map<std::string, std::string>& extra, int64_t step) = 0;
};

}  // namespace tunefleet
