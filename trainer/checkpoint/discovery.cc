#include "trainer/checkpoint/discovery.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/checksummed_io.h"

namespace tunefleet {

namespace fs = std::filesystem;

void LogTo(const CheckpointLog& log, const std::string& message) {
  if (log) {
    log(message);
  } else {
    std::cerr << "checkpoint: " << message << "\n";
  }
}

absl::StatusOr<std::vector<StepFolder>> ListStepFolders(const CheckpointRoot& root) {
  std::vector<StepFolder> folders;
  const fs::path job_dir(root.JobDirectory());
  std::error_code ec;
  if (!fs::exists(job_dir, ec)) return folders;
  fs::directory_iterator it(job_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", job_dir.string(), ": ", ec.message()));
  for (const fs::directory_entry& entry : it) {
    const std::optional<int64_t> step = ParseStepDirectoryName(entry.path().filename().string());
    if (!step || !entry.is_directory(ec)) continue;
    StepFolder folder;
    folder.step = *step;
    folder.dir = entry.path().string();
    folder.committed = fs::exists(entry.path() / kManifestFileName, ec);
    folders.push_back(std::move(folder));
  }
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
