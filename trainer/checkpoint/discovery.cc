#include "trainer/checkpoint/discovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "common/fs/remove_tree.h"
#include "trainer/checkpoint/checksummed_io.h"

namespace tunefleet {

void LogTo(const CheckpointLog& log, const std::string& message) {
  if (log) {
    log(message);
  } else {
    std::cerr << "checkpoint: " << message << "\n";
  }
}

absl::StatusOr<std::vector<StepFolder>> ListStepFolders(const CheckpointRoot& root) {
  std::vector<StepFolder> folders;
  const std::string job_dir = root.JobDirectory();
  // Listed through the job folder opened beneath the roots; each entry is
  // judged by fstatat without following links, so a link named step-N is no
  // step folder (and no retention or move-aside acts through it).
  absl::StatusOr<UniqueFd> job = OpenUserDirectory(job_dir);
  if (absl::IsNotFound(job.status())) return folders;
  if (!job.ok()) return job.status();
  const int listing_fd = ::fcntl(job->get(), F_DUPFD_CLOEXEC, 0);
  DIR* listing = listing_fd < 0 ? nullptr : ::fdopendir(listing_fd);
  if (listing == nullptr) {
    const int error = errno;
    if (listing_fd >= 0) ::close(listing_fd);
    return absl::UnavailableError(absl::StrCat("cannot list ", job_dir, ": ", std::strerror(error)));
  }
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    const std::optional<int64_t> step = ParseStepDirectoryName(name);
    struct stat st {};
    if (!step || ::fstatat(job->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    StepFolder folder;
    folder.step = *step;
    folder.dir = absl::StrCat(job_dir, "/", name);
    if (absl::StatusOr<UniqueFd> step_dir = OpenDirectoryAt(job->get(), name); step_dir.ok()) {
      struct stat manifest {};
      folder.committed = ::fstatat(step_dir->get(), kManifestFileName, &manifest, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISREG(manifest.st_mode);
    }
    folders.push_back(std::move(folder));
  }
  ::closedir(listing);
  std::sort(folders.begin(), folders.end(), [](const StepFolder& a, const StepFolder& b) { return a.step > b.step; });
  return folders;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifestFileName);
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  return ManifestFromJson(*text, path);
}

absl::StatusOr<std::vector<CommittedCheckpoint>> ListCommittedCheckpoints(const CheckpointRoot& root,
                                                                         const CheckpointLog& log) {
  absl::StatusOr<std::vector<StepFolder>> folders = ListStepFolders(root);
  if (!folders.ok()) return folders.status();
  std::vector<CommittedCheckpoint> out;
  for (const StepFolder& folder : *folders) {
    if (!folder.committed) continue;
    absl::StatusOr<Manifest> manifest = ReadManifest(folder.dir);
    if (!manifest.ok()) {
      LogTo(log, absl::StrCat("ignoring checkpoint step ", folder.step, ": ", manifest.status().message()));
      continue;
    }
    if (manifest->step != folder.step) {
      LogTo(log, absl::StrCat("ignoring checkpoint ", folder.dir, ": its manifest says step ", manifest->step));
      continue;
    }
    out.push_back(CommittedCheckpoint{folder.step, folder.dir, *std::move(manifest)});
  }
  return out;
}

absl::Status VerifyCheckpointFiles(const CommittedCheckpoint& checkpoint, const std::vector<std::string>& names) {
  if (names.empty()) {
    for (const FileRecord& file : checkpoint.manifest.files) {
      if (absl::Status s = VerifyFile(checkpoint.dir, file); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  for (const std::string& name : names) {
    const FileRecord* file = checkpoint.manifest.FindFile(name);
    if (file == nullptr) {
      return absl::NotFoundError(absl::StrCat(checkpoint.dir, "/", name, ": not listed in the manifest"));
    }
    if (absl::Status s = VerifyFile(checkpoint.dir, *file); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<CommittedCheckpoint> FindNewestValidCheckpoint(const CheckpointRoot& root, const CheckpointLog& log) {
  absl::StatusOr<std::vector<CommittedCheckpoint>> committed = ListCommittedCheckpoints(root, log);
  if (!committed.ok()) return committed.status();
  for (CommittedCheckpoint& checkpoint : *committed) {
    if (absl::Status s = VerifyCheckpointFiles(checkpoint); !s.ok()) {
      LogTo(log, absl::StrCat("checkpoint step ", checkpoint.step, " is invalid (", s.message(),
                              "); falling back to an older one"));
      continue;
    }
    return std::move(checkpoint);
  }
  return absl::NotFoundError(absl::StrCat("no valid committed checkpoint under ", root.JobDirectory()));
}

}  // namespace tunefleet
