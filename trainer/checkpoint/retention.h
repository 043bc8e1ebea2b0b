#pragma once
// Retention: keep the newest K committed checkpoints (and the one a caller
// names, e.g. the best by validation loss), never delete the one
// a job would resume from (the newest that verifies, even if older than
// those K), and remove uncommitted folders older than the newest commit
// (leftovers of failed or killed saves; newer ones may still be in
// progress and are left alone).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet {

struct RetentionReport {
  std::optional<int64_t> resume_step;  // the newest valid checkpoint, kept
  std::vector<int64_t> kept;           // committed steps kept, newest first
  std::vector<std::string> deleted;    // folders removed
};

// INVALID_ARGUMENT for keep_last < 1. A folder that cannot be removed is
// an error naming it (what was removed before stays removed).
absl::StatusOr<RetentionReport> ApplyRetention(const CheckpointRoot& root, int keep_last,
                                               const CheckpointLog& log = {},
                                               std::optional<int64_t> also_keep = std::nullopt);

}  // namespace tunefleet
