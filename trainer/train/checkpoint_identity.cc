#include "trainer/train/checkpoint_identity.h"

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/file_name.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet {
namespace {

int64_t EnvInt(const char* name) {
  const char* value = std::getenv(name);
  int64_t parsed = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &parsed)) return 0;
  return parsed;
}

}  // namespace

std::string CheckpointIdentity::SaveId(int64_t step) const {
  return absl::StrCat("g", generation, "-a", attempt, "-step-", step, "-", launch);
}

CheckpointIdentity ResolveCheckpointIdentity(const std::string& job_id_flag, const std::string& display_name) {
  CheckpointIdentity id;
  id.generation = EnvInt("TUNEFLEET_GENERATION");
  id.attempt = EnvInt("TUNEFLEET_ATTEMPT");
  // The id names a folder: whatever it came from (a display name is any
  // text a submitter typed), it becomes one harmless path component.
  if (!job_id_flag.empty()) {
    id.job = SanitizeFileName(job_id_flag);
  } else if (const char* env = std::getenv("TUNEFLEET_JOB"); env != nullptr && *env != '\0') {
    std::vector<absl::string_view> parts = absl::StrSplit(env, '/', absl::SkipEmpty());
    id.job = parts.empty() ? "job" : SanitizeFileName(parts.back());
  } else {
    id.job = SanitizeFileName(display_name);
  }
  return id;
}

absl::Status CheckNotSuperseded(const CheckpointRoot& root, const CheckpointIdentity& self) {
  auto committed = ListCommittedCheckpoints(root, [](const std::string&) {});
  if (!committed.ok()) return committed.status();
  for (const CommittedCheckpoint& checkpoint : *committed) {
    int64_t generation = 0, attempt = 0;
    if (!ParseSaveId(checkpoint.manifest.save_id, &generation, &attempt)) continue;
    if (std::make_pair(generation, attempt) > std::make_pair(self.generation, self.attempt)) {
      return absl::FailedPreconditionError(absl::StrCat(
          kAttemptFencedMarker, " refusing to commit: ", checkpoint.dir, " was committed by generation ", generation, " attempt ", attempt,
          ", newer than this trainer's generation ", self.generation, " attempt ", self.attempt,
          " (a stale trainer must not overwrite a newer attempt's progress)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
