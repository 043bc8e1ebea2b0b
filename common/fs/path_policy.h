#pragma once
// Where user-given paths (a job spec's model, data, checkpoint and export
// paths, and every file beneath them) may be opened.
//
// A confined policy holds one open directory per allowed root and opens
// every path beneath one of them with OpenBeneath: symbolic links are
// resolved by the kernel at open time and may not lead out of the root, so a
// link planted inside a root cannot make a trainer read /etc/shadow or write
// into another team's folder, and checking then opening cannot race.
//
// Whatever the policy, the system trees (/ itself, /etc, /proc, /sys, /dev)
// are never roots and never paths, and files read as data must be regular
// files (never a device, a FIFO or a socket). The unconfined policy (an
// operator's --allow-any-path) keeps only those two rules.
//
// Errors name the spec field: `model.path "/etc/passwd" is outside the
// allowed roots [/srv/models, /shared]`.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fs/open_beneath.h"
#include "common/fs/unique_fd.h"

namespace tunefleet {

// "/etc" when lexically normal, absolute `path` is in a system tree ("/" for
// "/" itself), else "".
std::string SystemTreeOf(const std::string& path);

class PathPolicy {
 public:
  // Opens each root (an operator's path: symlinks in it are followed once,
  // here). INVALID_ARGUMENT for none, a relative root, a system tree, or a
  // root that is not a directory. `denied`: trees inside the roots that jobs
  // must never open (the cluster's own keys, other jobs' logs), refused by
  // spelling and, after each open, by where the kernel says the file is.
  static absl::StatusOr<PathPolicy> Confined(const std::vector<std::string>& roots,
                                             const std::vector<std::string>& denied = {},
                                             BeneathResolver resolver = BeneathResolver::kAuto);
  // Anywhere but the system trees (the operator's escape hatch).
  static PathPolicy Unconfined();

  bool confined() const { return !roots_.empty(); }
  // The roots as configured, for messages and for passing on to a trainer.
  std::vector<std::string> RootPaths() const;
  // The denied trees (normalised, and their real paths).
  const std::vector<std::string>& DeniedPaths() const { return denied_; }

  // Is `path` (absolute) a system tree or, when confined, outside every root,
  // by its spelling alone? What a coordinator can check without the files.
  absl::Status CheckLexically(absl::string_view field, const std::string& path) const;

  // A regular file, read-only. Opened O_NONBLOCK (a FIFO must not hang the
  // open) and made blocking again once fstat says it is a regular file.
  absl::StatusOr<UniqueFd> OpenFile(absl::string_view field, const std::string& path) const;
  // A directory (O_RDONLY|O_DIRECTORY: readable, fsync-able, an openat base).
  absl::StatusOr<UniqueFd> OpenDirectory(absl::string_view field, const std::string& path) const;
  // mkdir -p beneath a root (mode 0755), then the directory as OpenDirectory.
  absl::StatusOr<UniqueFd> MakeDirectories(absl::string_view field, const std::string& path) const;
  // Whether MakeDirectories could succeed, creating nothing: every existing
  // leading component resolves beneath a root and is a directory.
  absl::Status CheckDirectoryTarget(absl::string_view field, const std::string& path) const;
  // Either: a regular file, or a directory (a model may be a GGUF file or a
  // Hugging Face folder).
  absl::StatusOr<UniqueFd> OpenFileOrDirectory(absl::string_view field, const std::string& path) const;

 private:
  struct Root {
    std::string path;                    // as configured, normalised
    std::vector<std::string> spellings;  // path and its realpath
    std::shared_ptr<UniqueFd> fd;
  };
  struct Located {
    const Root* root = nullptr;  // null: unconfined
    std::string relative;        // beneath root ("." for the root itself); the whole path when unconfined
  };

  absl::StatusOr<Located> Locate(absl::string_view field, const std::string& path) const;
  absl::StatusOr<UniqueFd> Open(absl::string_view field, const std::string& path, const Located& where, int flags,
                                mode_t mode = 0) const;

  absl::Status CheckNotDenied(absl::string_view field, const std::string& path, const std::string& normal) const;

  std::vector<Root> roots_;
  std::vector<std::string> denied_;  // normalised, and their real paths
  BeneathResolver resolver_ = BeneathResolver::kAuto;
};

}  // namespace tunefleet
