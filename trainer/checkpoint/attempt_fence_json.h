#pragma once
// The attempt fence's file ("attempt-fence.json") as text: what
// attempt_fence.cc writes and reads back from shared storage, which another
// job or a partial write may have left. Kept apart from the locking and the
// file access so the parser builds alone (fuzz/attempt_fence_fuzz.cc).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet {

struct AttemptFence {
  int64_t generation = 0;
  int64_t attempt = 0;
  int64_t written_unix_ms = 0;  // when this attempt first wrote the fence (for people; no rule reads it)
  // Save ids of older attempts' checkpoints this attempt may resume from.
  // nullopt in a fence written before the list existed: then a checkpoint
  // created after written_unix_ms is the stale one (a clock comparison).
  std::optional<std::vector<std::string>> accepted;
};

// The fence lists the checkpoints kept on storage (retention bounds them):
// a few KiB; anything past 1 MiB is not ours.
inline constexpr size_t kMaxAttemptFenceBytes = size_t{1} << 20;

// One JSON object and a newline.
std::string AttemptFenceToJson(const AttemptFence& fence);

// DATA_LOSS naming `path` and what is wrong: not a fence (not an object, a
// missing or non-integer field), an "accepted" that is not a list of
// strings, or more than kMaxAttemptFenceBytes.
absl::StatusOr<AttemptFence> AttemptFenceFromJson(absl::string_view text, absl::string_view path);

}  // namespace tunefleet
