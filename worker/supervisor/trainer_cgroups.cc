#include "worker/supervisor/trainer_cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tunefleet::supervisor {
namespace {

constexpr const char* kNeeded[] = {"memory", "pids"};

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One write(2) of `text` (a control file takes one whole value per write):
// 0, or the errno.
int WriteControl(const std::string& path, const std::string& text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  const ssize_t written = write(fd, text.data(), text.size());
  const int error = written == static_cast<ssize_t>(text.size()) ? 0 : written < 0 ? errno : EIO;
  close(fd);
  return error;
}

absl::Status WriteStatus(const std::string& path, const std::string& text) {
  if (const int error = WriteControl(path, text); error != 0) {
    return absl::ErrnoToStatus(error, absl::StrCat("cannot write \"", text, "\" to ", path));
  }
  return absl::OkStatus();
}

std::set<std::string> Words(const std::string& text) {
  std::set<std::string> words;
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    words.emplace(word);
  }
  return words;
}

bool HasNeeded(const std::set<std::string>& controllers) {
  for (const char* name : kNeeded) {
    if (!controllers.count(name)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> OwnCgroupDirectory(const std::string& proc_self_cgroup,
                                               const std::string& mountinfo) {
  auto membership = ReadText(proc_self_cgroup);
  if (!membership.ok()) return membership.status();
  std::string relative;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(*membership, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "0::")) {
      relative = std::string(line);
      found = true;
    }
  }
  if (!found)
    return absl::NotFoundError(absl::StrCat("no cgroup v2 membership (\"0::\") in ", proc_self_cgroup));
  auto mounts = ReadText(mountinfo);
  if (!mounts.ok()) return mounts.status();
  // "36 25 0:31 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw": the
  // mount point is the fifth field, the type the first after " - ".
  for (absl::string_view line : absl::StrSplit(*mounts, '\n', absl::SkipEmpty())) {
    const size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    const std::vector<absl::string_view> after = absl::StrSplit(line.substr(dash + 3), ' ');
    const std::vector<absl::string_view> before = absl::StrSplit(line.substr(0, dash), ' ');
    if (after.empty() || after[0] != "cgroup2" || before.size() < 5) continue;
    std::string dir = absl::StrCat(before[4], relative == "/" ? "" : relative);
    return dir;
  }
  return absl::NotFoundError(absl::StrCat("no cgroup2 file system mounted (", mountinfo, ")"));
}

absl::StatusOr<std::unique_ptr<TrainerCgroups>> TrainerCgroups::Open(const std::string& own_dir) {
  auto controllers = ReadText(own_dir + "/cgroup.controllers");
  if (!controllers.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cgroup v2 group at ", own_dir, " (", controllers.status().message(), ")"));
  }
  const std::set<std::string> offered = Words(*controllers);
  if (!HasNeeded(offered)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the worker's cgroup ", own_dir, " offers the controllers [", absl::StrJoin(offered, " "),
        "]; trainers' groups need memory and pids (delegate them, e.g. systemd Delegate=yes)"));
  }
  auto enabled = ReadText(own_dir + "/cgroup.subtree_control");
  if (!enabled.ok() || !HasNeeded(Words(*enabled))) {
    const std::string subtree = own_dir + "/cgroup.subtree_control";
    int error = WriteControl(subtree, "+memory +pids");
    if (error == EBUSY) {
      // A group with processes (the worker) may not enable controllers for
      // children: move the worker into a leaf of its own first.
      const std::string leaf = own_dir + "/tunefleet-worker";
      if (mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::FailedPreconditionError(absl::StrCat("cannot make ", leaf, ": ", std::strerror(errno)));
      }
      if (const int moved = WriteControl(leaf + "/cgroup.procs", "0"); moved != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot move the worker into ", leaf, ": ", std::strerror(moved)));
      }
      error = WriteControl(subtree, "+memory +pids");
    }
    if (error != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot enable memory and pids in ", subtree, ": ", std::strerror(error),
                       error == EBUSY ? " (other processes share the worker's cgroup)" : ""));
    }
  }
  // A probe: creating a child is what delegation must allow.
  const std::string probe = absl::StrCat(own_dir, "/tunefleet-probe-", getpid());
  if (mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot make a group beneath ", own_dir, ": ", std::strerror(errno)));
  }
  rmdir(probe.c_str());
  // Groups a worker before this one left (it was killed): empty ones go now.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(own_dir, ec)) {
    if (entry.path().filename().string().rfind("trainer-", 0) == 0) rmdir(entry.path().c_str());
  }
  return std::unique_ptr<TrainerCgroups>(new TrainerCgroups(own_dir));
}

absl::StatusOr<std::string> TrainerCgroups::Create(const std::string& name, uint64_t memory_max_bytes,
                                                   uint64_t pids_max) {
  RetryRemovals();
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(absl::StrCat("cgroup name \"", name, "\": one plain component"));
  }
  const std::string group = absl::StrCat(dir_, "/", name);
  if (mkdir(group.c_str(), 0755) != 0) {
    if (errno != EEXIST) return absl::ErrnoToStatus(errno, absl::StrCat("cannot make cgroup ", group));
    Remove(group);  // left by a worker before this one
    if (mkdir(group.c_str(), 0755) != 0)
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot make cgroup ", group));
  }
  const auto bound = [](uint64_t value) { return value == 0 ? std::string("max") : absl::StrCat(value); };
  for (const auto& [file, value] :
       {std::pair{"memory.max", bound(memory_max_bytes)}, std::pair{"pids.max", bound(pids_max)}}) {
    if (absl::Status s = WriteStatus(absl::StrCat(group, "/", file), value); !s.ok()) {
      rmdir(group.c_str());
      return s;
    }
  }
  // No swap beyond memory.max where the kernel accounts it (best effort:
  // the file exists only with swap accounting).
  if (access((group + "/memory.swap.max").c_str(), W_OK) == 0) {
    WriteControl(group + "/memory.swap.max", "0");
  }
  return group;
}

bool TrainerCgroups::OomKilled(const std::string& group) const {
  auto events = ReadText(group + "/memory.events");
  if (!events.ok()) return false;
  for (absl::string_view line : absl::StrSplit(*events, '\n', absl::SkipEmpty())) {
    int64_t count = 0;
    if (absl::ConsumePrefix(&line, "oom_kill ") && absl::SimpleAtoi(line, &count) && count > 0) return true;
  }
  return false;
}

void TrainerCgroups::Remove(const std::string& group) {
  // cgroup.kill (Linux 5.14) ends whatever the trainer left, even outside
  // its process group; older kernels: the worker's SIGKILL to the group.
  RetryRemovals();
  if (access((group + "/cgroup.kill").c_str(), W_OK) == 0) WriteControl(group + "/cgroup.kill", "1");
  if (rmdir(group.c_str()) != 0 && errno != ENOENT) pending_.push_back(group);
}

void TrainerCgroups::RetryRemovals() {
  std::vector<std::string> again;
  for (const std::string& group : pending_) {
    if (rmdir(group.c_str()) != 0 && errno != ENOENT) again.push_back(group);
  }
  pending_ = std::move(again);
}

}  // namespace tunefleet::supervisor
