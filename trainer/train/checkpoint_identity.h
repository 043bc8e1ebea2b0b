#pragma once
// Which job a trainer checkpoints for, and which attempt of it this process
// is, so that a stale attempt (a trainer the worker gave up on, still
// running) can never commit a checkpoint over a newer attempt's.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "trainer/checkpoint/attempt_fence.h"  // ParseSaveId
#include "trainer/checkpoint/checkpoint_layout.h"

namespace tunefleet {

struct CheckpointIdentity {
  std::string job;         // the folder under checkpoint.directory
  int64_t generation = 0;  // TUNEFLEET_GENERATION (0 when unset)
  int64_t attempt = 0;     // TUNEFLEET_ATTEMPT (0 when unset)

  // Set by the loop: the same on every rank of one launch (rank 0's start
  // time), so files left by an earlier launch's killed save at the same step
  // are never committed as this one's.
  int64_t launch = 0;

  // "g<generation>-a<attempt>-step-<step>-<launch>": the manifest's save_id,
  // so every committed checkpoint says which attempt wrote it.
  std::string SaveId(int64_t step) const;
};

// The job id: `job_id_flag`, else the last path component of $TUNEFLEET_JOB
// (the worker sets jobs/<id>), else `display_name`, else "job"; always passed
// through SanitizeFileName (common/fs/file_name.h): a display name of
// "../../x" names the folder "_.._x", inside checkpoint.directory. Generation
// and attempt from $TUNEFLEET_GENERATION and $TUNEFLEET_ATTEMPT.
CheckpointIdentity ResolveCheckpointIdentity(const std::string& job_id_flag, const std::string& display_name);

// FAILED_PRECONDITION when a committed checkpoint of `root` was written by a
// newer (generation, attempt) than `self`: this trainer is stale and must
// not commit. Called as the commit fence, just before the manifest rename.
absl::Status CheckNotSuperseded(const CheckpointRoot& root, const CheckpointIdentity& self);

}  // namespace tunefleet
