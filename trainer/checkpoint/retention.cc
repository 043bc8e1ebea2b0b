#include "trainer/checkpoint/retention.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/step_folder_ops.h"

namespace tunefleet {

namespace fs = std::filesystem;

absl::StatusOr<RetentionReport> ApplyRetention(const CheckpointRoot& root, int keep_last, const CheckpointLog& log,
                                               std::optional<int64_t> also_keep) {
  if (keep_last < 1) return absl::InvalidArgumentError(absl::StrCat("keep_last must be >= 1, not ", keep_last));
  absl::StatusOr<std::vector<StepFolder>> folders = ListStepFolders(root);
  if (!folders.ok()) return folders.status();

  RetentionReport report;
  // Verifies files: deleting the resume target would be unrecoverable, so
  // "valid" is decided by checksums, not by the manifest's presence.
  absl::StatusOr<CommittedCheckpoint> resume = FindNewestValidCheckpoint(root, log);
  if (resume.ok()) {
    report.resume_step = resume->step;
  } else if (!absl::IsNotFound(resume.status())) {
    return resume.status();
  }

  std::set<int64_t> keep;
  std::optional<int64_t> newest_committed;
  int committed_seen = 0;
  for (const StepFolder& folder : *folders) {  // newest first
    if (!folder.committed) continue;
    if (!newest_committed) newest_committed = folder.step;
    if (committed_seen++ < keep_last) keep.insert(folder.step);
  }
  if (report.resume_step) keep.insert(*report.resume_step);
  if (also_keep) keep.insert(*also_keep);

  for (const StepFolder& folder : *folders) {
    bool remove = false;
    if (folder.committed) {
      remove = keep.count(folder.step) == 0;
    } else {
      // Older than a commit: no save can still be writing it.
      remove = newest_committed && folder.step < *newest_committed;
    }
    if (!remove) {
      if (folder.committed) report.kept.push_back(folder.step);
      continue;
    }
    const std::string name = fs::path(folder.dir).filename().string();
    if (absl::Status s = RemoveStepFolder(root, name); !s.ok()) return s;
    report.deleted.push_back(folder.dir);
  }
  return report;
}

}  // namespace tunefleet
