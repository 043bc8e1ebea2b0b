#include "trainer/checkpoint/retention.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

// Uncommit first (unlink the manifest, fsync the folder), then remove the
// rest: a crash half-way leaves an uncommitted folder, never a committed
// checkpoint with files missing.
absl::Status RemoveCheckpointFolder(const std::string& dir) {
  // Only a folder that resolves beneath the allowed roots is removed.
  // (remove_all itself never follows links below it.)
  if (absl::StatusOr<UniqueFd> checked = OpenUserDirectory(dir); !checked.ok()) return checked.status();
  const std::string manifest = absl::StrCat(dir, "/", kManifestFileName);
  if (::unlink(manifest.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove ", manifest));
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot remove ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RetentionReport> ApplyRetention(const CheckpointRoot& root, int keep_last, const CheckpointLog& log) {
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
    if (absl::Status s = RemoveCheckpointFolder(folder.dir); !s.ok()) return s;
    report.deleted.push_back(folder.dir);
  }
  return report;
}

}  // namespace tunefleet
