#include "trainer/checkpoint/attempt_fence.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/fs/atomic_file.h"
#include "common/fs/process_path_policy.h"
#include "common/fs/unique_fd.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Describe(int64_t generation, int64_t attempt) {
  return absl::StrCat("generation ", generation, " attempt ", attempt);
}

// The job's folder (made if missing, through the path policy) and its lock,
// taken exclusively: every fence operation is short, so one kind of lock.
struct LockedFence {
  UniqueFd dir;
  UniqueFd lock;
};

absl::StatusOr<LockedFence> LockFence(const std::string& job_dir) {
  absl::StatusOr<UniqueFd> dir = MakeUserDirectories(job_dir);
  if (!dir.ok()) return dir.status();
  const int fd = ::openat(dir->get(), kAttemptFenceLockFileName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", job_dir, "/", kAttemptFenceLockFileName));
  UniqueFd lock(fd);
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("cannot lock ", job_dir, "/", kAttemptFenceLockFileName));
  }
  return LockedFence{*std::move(dir), std::move(lock)};
}

absl::StatusOr<std::optional<AttemptFence>> ReadFenceAt(int dir_fd, const std::string& job_dir) {
  const std::string path = absl::StrCat(job_dir, "/", kAttemptFenceFileName);
  const int fd = ::openat(dir_fd, kAttemptFenceFileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<AttemptFence>();
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  UniqueFd file(fd);
  std::string text;
  char buffer[1024];
  while (true) {
    const ssize_t n = ::read(file.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxAttemptFenceBytes) return absl::DataLossError(absl::StrCat(path, ": larger than a fence"));
  }
  absl::StatusOr<AttemptFence> fence = AttemptFenceFromJson(text, path);
  if (!fence.ok()) return fence.status();
  return std::optional<AttemptFence>(*std::move(fence));
}

bool Newer(const AttemptFence& fence, int64_t generation, int64_t attempt) {
  return std::make_pair(fence.generation, fence.attempt) > std::make_pair(generation, attempt);
}

bool Accepts(const AttemptFence& fence, const Manifest& manifest) {
  if (!fence.accepted) return manifest.created_unix_ms <= fence.written_unix_ms;
  return std::find(fence.accepted->begin(), fence.accepted->end(), manifest.save_id) != fence.accepted->end();
}

// The older attempts' checkpoints the attempt replacing `previous` may
// resume from: every committed one when no fence was ever written; else
// the previous attempt's own and those its fence accepted. Inherited this
// way, a stale commit stays refused by every later attempt too.
absl::StatusOr<std::vector<std::string>> AcceptedCheckpoints(const CheckpointRoot& root,
                                                             const std::optional<AttemptFence>& previous) {
  // A damaged manifest is left out here without a word: the resume that
  // follows lists the same folders and reports it.
  absl::StatusOr<std::vector<CommittedCheckpoint>> committed =
      ListCommittedCheckpoints(root, [](const std::string&) {});
  if (!committed.ok()) return committed.status();
  std::vector<std::string> accepted;
  for (const CommittedCheckpoint& checkpoint : *committed) {
    const Manifest& manifest = checkpoint.manifest;
    int64_t generation = 0, attempt = 0;
    if (!ParseSaveId(manifest.save_id, &generation, &attempt)) continue;  // not judged by the fence
    const bool by_previous = previous && previous->generation == generation && previous->attempt == attempt;
    if (!previous || by_previous || Accepts(*previous, manifest)) accepted.push_back(manifest.save_id);
  }
  return accepted;
}

}  // namespace

bool ParseSaveId(absl::string_view save_id, int64_t* generation, int64_t* attempt) {
  std::vector<absl::string_view> parts = absl::StrSplit(save_id, '-');
  if (parts.size() < 2 || parts[0].size() < 2 || parts[1].size() < 2 || parts[0][0] != 'g' || parts[1][0] != 'a') {
    return false;
  }
  return absl::SimpleAtoi(parts[0].substr(1), generation) && absl::SimpleAtoi(parts[1].substr(1), attempt);
}

absl::StatusOr<AttemptFence> AdvanceAttemptFence(const CheckpointRoot& root, int64_t generation, int64_t attempt) {
  const std::string job_dir = root.JobDirectory();
  absl::StatusOr<LockedFence> locked = LockFence(job_dir);
  if (!locked.ok()) return locked.status();
  absl::StatusOr<std::optional<AttemptFence>> current = ReadFenceAt(locked->dir.get(), job_dir);
  if (!current.ok()) return current.status();
  if (current->has_value()) {
    const AttemptFence& recorded = **current;
    if (Newer(recorded, generation, attempt)) {
      return absl::FailedPreconditionError(absl::StrCat(
          kAttemptFencedMarker, " ", job_dir, " belongs to ", Describe(recorded.generation, recorded.attempt),
          ", newer than this trainer's ", Describe(generation, attempt)));
    }
    if (recorded.generation == generation && recorded.attempt == attempt) return recorded;
  }
  absl::StatusOr<std::vector<std::string>> accepted = AcceptedCheckpoints(root, *current);
  if (!accepted.ok()) return accepted.status();
  AttemptFence fence{generation, attempt, NowUnixMs(), *std::move(accepted)};
  // The project's temp-file writer: readers see the old fence or the new one.
  if (absl::Status s = WriteFileAtomically(absl::StrCat(job_dir, "/", kAttemptFenceFileName), AttemptFenceToJson(fence));
      !s.ok()) {
    return s;
  }
  return fence;
}

absl::StatusOr<std::optional<AttemptFence>> ReadAttemptFence(const std::string& job_dir) {
  absl::StatusOr<UniqueFd> dir = OpenUserDirectory(job_dir);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return std::optional<AttemptFence>();
    return dir.status();
  }
  return ReadFenceAt(dir->get(), job_dir);
}

absl::Status CommitUnderAttemptFence(const std::string& job_dir, int64_t generation, int64_t attempt,
                                     const std::function<absl::Status()>& commit) {
  absl::StatusOr<LockedFence> locked = LockFence(job_dir);
  if (!locked.ok()) return locked.status();
  absl::StatusOr<std::optional<AttemptFence>> current = ReadFenceAt(locked->dir.get(), job_dir);
  if (!current.ok()) return current.status();
  if (current->has_value() && Newer(**current, generation, attempt)) {
    return absl::FailedPreconditionError(absl::StrCat(
        kAttemptFencedMarker, " refusing to commit: ", Describe((*current)->generation, (*current)->attempt),
        " has started on ", job_dir, ", newer than this trainer's ", Describe(generation, attempt)));
  }
  return commit();  // the lock is released when `locked` goes, after the rename
}

bool FencedOut(const AttemptFence& fence, const Manifest& manifest) {
  int64_t generation = 0, attempt = 0;
  if (!ParseSaveId(manifest.save_id, &generation, &attempt)) return false;
  return Newer(fence, generation, attempt) && !Accepts(fence, manifest);
}

bool IsAttemptFenced(const absl::Status& status) {
  return !status.ok() && absl::StrContains(status.message(), kAttemptFencedMarker);
}

}  // namespace tunefleet
