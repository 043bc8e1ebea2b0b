#pragma once
// The attempt fence: which attempt of a job may commit checkpoints.
//
// A trainer attempt records itself in the job's checkpoint folder as the
// newest attempt ("attempt-fence.json") when it starts, before it chooses
// what to resume from; the record only ever moves forward in (generation,
// attempt). A commit checks it and renames its manifest while holding the
// fence's lock ("attempt-fence.lock", flock), so a stale attempt (a trainer
// on a partitioned or frozen worker that the coordinator has replaced) can
// never commit once the newer attempt has started. Where the storage does
// not honour flock, resume re-checks without comparing clocks: the fence
// lists the older attempts' checkpoints this attempt accepts (those
// committed when it started, by the attempt it replaced or accepted by that
// one's fence), and any other checkpoint of an older attempt is a stale
// commit that slipped past the lock (FencedOut).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/checkpoint/attempt_fence_json.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/manifest.h"

namespace tunefleet {

inline constexpr char kAttemptFenceFileName[] = "attempt-fence.json";
inline constexpr char kAttemptFenceLockFileName[] = "attempt-fence.lock";
// In the message of every refusal by the fence: the trainer maps it to
// exit_codes::kAttemptFenced (messages are re-wrapped on the way up, so a
// status code alone would not survive).
inline constexpr char kAttemptFencedMarker[] = "attempt fenced:";

// Parses a checkpoint's save_id "g<generation>-a<attempt>-..."; false for
// ids of another shape (e.g. test tools').
bool ParseSaveId(absl::string_view save_id, int64_t* generation, int64_t* attempt);

// Records (generation, attempt) as the newest attempt of `root`'s job (its
// folder created if missing), with the older checkpoints it accepts, listed
// under the fence's lock. Idempotent for the attempt already recorded (the
// record is kept as it is, so every rank accepts the same checkpoints); an
// error carrying kAttemptFencedMarker when a newer attempt is recorded: this
// one is stale.
absl::StatusOr<AttemptFence> AdvanceAttemptFence(const CheckpointRoot& root, int64_t generation, int64_t attempt);

// The recorded fence; nullopt when none was ever written.
absl::StatusOr<std::optional<AttemptFence>> ReadAttemptFence(const std::string& job_dir);

// Runs `commit` (the manifest's rename) holding the fence's lock, unless the
// fence names an attempt newer than (generation, attempt): then an error
// carrying kAttemptFencedMarker and `commit` is not run.
absl::Status CommitUnderAttemptFence(const std::string& job_dir, int64_t generation, int64_t attempt,
                                     const std::function<absl::Status()>& commit);

// True when `manifest` must not be resumed from under `fence`: it was saved
// by an older attempt than the fence's and is not one the fence accepted (a
// stale commit that slipped past the lock).
bool FencedOut(const AttemptFence& fence, const Manifest& manifest);

// Whether `status` is a refusal by the fence.
bool IsAttemptFenced(const absl::Status& status);

}  // namespace tunefleet
