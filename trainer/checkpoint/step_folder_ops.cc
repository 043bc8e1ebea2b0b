#include "trainer/checkpoint/step_folder_ops.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "common/fs/remove_tree.h"

namespace tunefleet {

absl::Status RemoveStepFolder(const CheckpointRoot& root, const std::string& name) {
  const std::string shown = absl::StrCat(root.JobDirectory(), "/", name);
  // The job folder resolves beneath the allowed roots; everything after is
  // relative to it.
  absl::StatusOr<UniqueFd> job = OpenUserDirectory(root.JobDirectory());
  if (!job.ok()) return job.status();
  if (absl::StatusOr<UniqueFd> step = OpenDirectoryAt(job->get(), name); step.ok()) {
    if (::unlinkat(step->get(), kManifestFileName, 0) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove ", shown, "/", kManifestFileName));
    }
    ::fsync(step->get());
  }  // else a link or a file where a folder was: removed as such below
  if (absl::Status s = RemoveTreeAt(job->get(), name); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("cannot remove ", shown, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MoveStepFolderAside(const CheckpointRoot& root, const std::string& name) {
  absl::StatusOr<UniqueFd> job = OpenUserDirectory(root.JobDirectory());
  if (!job.ok()) return job.status();
  for (int n = 0; n < 1000; ++n) {
    const std::string target = absl::StrCat(name, ".damaged-", n);
    int moved = ::renameat2(job->get(), name.c_str(), job->get(), target.c_str(), RENAME_NOREPLACE);
    if (moved != 0 && errno == EINVAL) {
      // A file system without RENAME_NOREPLACE (some NFS): check, then rename,
      // still both relative to the job folder and never through a link.
      struct stat st {};
      if (::fstatat(job->get(), target.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
      moved = ::renameat(job->get(), name.c_str(), job->get(), target.c_str());
    }
    if (moved == 0) {
      ::fsync(job->get());
      return target;
    }
    if (errno != EEXIST) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("cannot move ", root.JobDirectory(), "/", name, " aside"));
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("cannot move ", root.JobDirectory(), "/", name, " aside: 1000 damaged copies already"));
}

}  // namespace tunefleet
