#pragma once
// Removing a tree that someone else may be changing (a checkpoint folder on
// shared storage, a staging folder) without ever following a symbolic link:
// every step is relative to an open directory, never a path looked up again.
// A link anywhere in the tree is unlinked as a link (its target survives);
// a folder swapped for a link between two steps is refused by O_NOFOLLOW,
// not entered. This closes the gap between checking a folder lies beneath a
// root and removing it by name.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fs/unique_fd.h"

namespace tunefleet {

// Removes `name` (one path component: a file, a link, or a folder and
// everything in it) from the directory open as `dir_fd`. A name that is not
// there is not an error. Trees nested deeper than `kMaxRemoveDepth` are
// refused (a hostile tree must not exhaust the stack or descriptors).
absl::Status RemoveTreeAt(int dir_fd, const std::string& name);
inline constexpr int kMaxRemoveDepth = 128;

// Opens `name` in `dir_fd` as a directory, refusing a symbolic link
// (O_DIRECTORY | O_NOFOLLOW): the base for the next *at() call.
absl::StatusOr<UniqueFd> OpenDirectoryAt(int dir_fd, const std::string& name);

// RemoveTreeAt through `path`'s parent, opened as given (an operator's path,
// such as $TMPDIR): for a tree the caller made itself.
absl::Status RemoveTree(const std::string& path);

}  // namespace tunefleet
