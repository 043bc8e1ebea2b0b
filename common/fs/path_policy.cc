#include "common/fs/path_policy.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace tunefleet {
namespace {

namespace stdfs = std::filesystem;

constexpr const char* kSystemTrees[] = {"/etc", "/proc", "/sys", "/dev"};

// Lexically normal, without a trailing slash ("/a/b/" -> "/a/b").
std::string Normal(const std::string& path) {
  std::string normal = stdfs::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

bool IsUnder(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

std::string Subject(absl::string_view field, const std::string& path) {
  return field.empty() ? absl::StrCat("\"", path, "\"") : absl::StrCat(field, " \"", path, "\"");
}

std::string FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// What the kernel says the descriptor is, for the unconfined policy's check.
std::string ResolvedPath(int fd) {
  char buffer[PATH_MAX + 1] = {};
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  const ssize_t n = readlink(link.c_str(), buffer, PATH_MAX);
  return n < 0 ? std::string() : std::string(buffer, static_cast<size_t>(n));
}

std::vector<std::string> Prefixes(const std::string& relative) {
  std::vector<std::string> prefixes;
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(relative, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    prefix = prefix.empty() ? std::string(part) : absl::StrCat(prefix, "/", part);
    prefixes.push_back(prefix);
  }
  return prefixes;
}

}  // namespace

std::string SystemTreeOf(const std::string& path) {
  if (path == "/") return "/";
  for (const char* tree : kSystemTrees) {
    if (IsUnder(path, tree)) return tree;
  }
  return "";
}

absl::StatusOr<PathPolicy> PathPolicy::Confined(const std::vector<std::string>& roots,
                                                const std::vector<std::string>& denied, BeneathResolver resolver) {
  if (roots.empty()) return absl::InvalidArgumentError("no allowed root given");
  PathPolicy policy;
  policy.resolver_ = resolver;
  for (const std::string& given : denied) {
    const std::string normal = Normal(given);
    policy.denied_.push_back(normal);
    char real[PATH_MAX + 1] = {};
    if (realpath(normal.c_str(), real) != nullptr && real != normal) policy.denied_.push_back(real);
  }
  for (const std::string& given : roots) {
    const std::string normal = Normal(given);
    if (normal.empty() || normal[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("allowed root \"", given, "\" is relative: give an absolute path"));
    }
    char real[PATH_MAX + 1] = {};
    const std::string real_path = realpath(normal.c_str(), real) != nullptr ? std::string(real) : normal;
    for (const std::string& spelling : {normal, real_path}) {
      if (const std::string tree = SystemTreeOf(spelling); !tree.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("allowed root \"", given, "\" is ",
                                                       tree == "/" ? "/" : absl::StrCat("in ", tree),
                                                       ", which can never be a root"));
      }
    }
    const int fd = open(normal.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("allowed root \"", given, "\" is not a directory that can be opened"));
    }
    Root root{normal, {normal}, std::make_shared<UniqueFd>(fd)};
    if (real_path != normal) root.spellings.push_back(real_path);
    policy.roots_.push_back(std::move(root));
  }
  return policy;
}

PathPolicy PathPolicy::Unconfined() { return PathPolicy(); }

std::vector<std::string> PathPolicy::RootPaths() const {
  std::vector<std::string> paths;
  for (const Root& root : roots_) paths.push_back(root.path);
  return paths;
}

absl::StatusOr<PathPolicy::Located> PathPolicy::Locate(absl::string_view field, const std::string& path) const {
  // Unconfined, a relative path is the caller's working directory's (a tool
  // run by hand); confined, it is refused: relative to what would be a guess.
  std::error_code ec;
  const std::string normal =
      Normal(!confined() && !path.empty() && path[0] != '/' ? stdfs::absolute(path, ec).string() : path);
  const std::string allowed = absl::StrCat("[", absl::StrJoin(RootPaths(), ", "), "]");
  if (normal.empty() || normal[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(Subject(field, path), " is relative: give an absolute path",
                                                   confined() ? absl::StrCat(" beneath the allowed roots ", allowed) : ""));
  }
  if (const std::string tree = SystemTreeOf(normal); !tree.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Subject(field, path), " is ",
                                                   tree == "/" ? "/ itself" : absl::StrCat("in ", tree),
                                                   ", which jobs may never read or write"));
  }
  if (!confined()) return Located{nullptr, normal};
  const Root* best = nullptr;
  std::string best_spelling;
  for (const Root& root : roots_) {
    for (const std::string& spelling : root.spellings) {
      if (IsUnder(normal, spelling) && spelling.size() > best_spelling.size()) {
        best = &root;
        best_spelling = spelling;
      }
    }
  }
  if (best == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(Subject(field, path), " is outside the allowed roots ", allowed));
  }
  if (absl::Status s = CheckNotDenied(field, path, normal); !s.ok()) return s;
  std::string relative = normal.size() == best_spelling.size() ? "." : normal.substr(best_spelling.size());
  if (relative[0] == '/') relative.erase(0, 1);
  return Located{best, relative};
}

absl::Status PathPolicy::CheckNotDenied(absl::string_view field, const std::string& path,
                                        const std::string& normal) const {
  for (const std::string& denied : denied_) {
    if (IsUnder(normal, denied)) {
      return absl::PermissionDeniedError(
          absl::StrCat(Subject(field, path), " is in \"", denied, "\", which jobs may never read or write"));
    }
  }
  return absl::OkStatus();
}

absl::Status PathPolicy::CheckLexically(absl::string_view field, const std::string& path) const {
  return Locate(field, path).status();
}

absl::StatusOr<UniqueFd> PathPolicy::Open(absl::string_view field, const std::string& path, const Located& where,
                                          int flags, mode_t mode) const {
  if (where.root == nullptr) {
    UniqueFd fd(open(where.relative.c_str(), flags | O_CLOEXEC | O_NOCTTY, mode));
    if (!fd.valid()) return absl::ErrnoToStatus(errno, Subject(field, path));
    // Symlinks were followed: refuse what they led into.
    const std::string resolved = ResolvedPath(fd.get());
    if (const std::string tree = SystemTreeOf(resolved); !tree.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Subject(field, path), " resolves to \"", resolved, "\", in ",
                                                     tree, ", which jobs may never read or write"));
    }
    return fd;
  }
  const int fd = OpenBeneath(where.root->fd->get(), where.relative, flags, mode, resolver_);
  if (fd >= 0) {
    UniqueFd opened(fd);
    // A link that stays inside the root may still lead into a denied tree.
    if (!denied_.empty()) {
      if (absl::Status s = CheckNotDenied(field, path, ResolvedPath(fd)); !s.ok()) return s;
    }
    return opened;
  }
  if (fd == -EXDEV || fd == -ELOOP) {
    return absl::PermissionDeniedError(absl::StrCat(
        Subject(field, path), " leads outside the allowed roots [", absl::StrJoin(RootPaths(), ", "),
        "] through a symbolic link or \"..\" (links are resolved when the file is opened)"));
  }
  return absl::ErrnoToStatus(-fd, Subject(field, path));
}

absl::StatusOr<UniqueFd> PathPolicy::OpenFile(absl::string_view field, const std::string& path) const {
  absl::StatusOr<Located> where = Locate(field, path);
  if (!where.ok()) return where.status();
  absl::StatusOr<UniqueFd> fd = Open(field, path, *where, O_RDONLY | O_NONBLOCK);
  if (!fd.ok()) return fd.status();
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return absl::ErrnoToStatus(errno, Subject(field, path));
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Subject(field, path), " is ", FileKind(st.st_mode), ", not a regular file"));
  }
  const int status_flags = fcntl(fd->get(), F_GETFL);
  if (status_flags >= 0) fcntl(fd->get(), F_SETFL, status_flags & ~O_NONBLOCK);
  return fd;
}

absl::StatusOr<UniqueFd> PathPolicy::OpenDirectory(absl::string_view field, const std::string& path) const {
  absl::StatusOr<Located> where = Locate(field, path);
  if (!where.ok()) return where.status();
  absl::StatusOr<UniqueFd> fd = Open(field, path, *where, O_RDONLY | O_DIRECTORY);
  if (!fd.ok() && absl::IsFailedPrecondition(fd.status())) {  // ENOTDIR
    return absl::InvalidArgumentError(absl::StrCat(Subject(field, path), " is not a directory"));
  }
  return fd;
}

absl::StatusOr<UniqueFd> PathPolicy::OpenFileOrDirectory(absl::string_view field, const std::string& path) const {
  absl::StatusOr<Located> where = Locate(field, path);
  if (!where.ok()) return where.status();
  absl::StatusOr<UniqueFd> probe = Open(field, path, *where, O_PATH);
  if (!probe.ok()) return probe.status();
  struct stat st {};
  if (fstat(probe->get(), &st) != 0) return absl::ErrnoToStatus(errno, Subject(field, path));
  return S_ISDIR(st.st_mode) ? OpenDirectory(field, path) : OpenFile(field, path);
}

absl::StatusOr<UniqueFd> PathPolicy::MakeDirectories(absl::string_view field, const std::string& path) const {
  absl::StatusOr<Located> where = Locate(field, path);
  if (!where.ok()) return where.status();
  if (where->root == nullptr) {
    std::error_code ec;
    stdfs::create_directories(where->relative, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(Subject(field, path), ": cannot create: ", ec.message()));
    return Open(field, path, *where, O_RDONLY | O_DIRECTORY);
  }
  // Each level is made inside the directory opened beneath the root just
  // before, so a symlink swapped in for a component is never followed out.
  const int root_fd = where->root->fd->get();
  UniqueFd current(openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!current.valid()) return absl::ErrnoToStatus(errno, Subject(field, path));
  for (const std::string& prefix : Prefixes(where->relative)) {
    const std::string name = prefix.substr(prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/') + 1);
    if (mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat(Subject(field, path), ": cannot create ", prefix));
    }
    absl::StatusOr<UniqueFd> next = Open(field, path, Located{where->root, prefix}, O_RDONLY | O_DIRECTORY);
    if (!next.ok()) return next.status();
    current = std::move(*next);
  }
  return current;
}

absl::Status PathPolicy::CheckDirectoryTarget(absl::string_view field, const std::string& path) const {
  absl::StatusOr<Located> where = Locate(field, path);
  if (!where.ok()) return where.status();
  if (where->root == nullptr) {
    std::error_code ec;
    if (!stdfs::exists(where->relative, ec)) return absl::OkStatus();
    return Open(field, path, *where, O_PATH | O_DIRECTORY).status();
  }
  for (const std::string& prefix : Prefixes(where->relative)) {
    const int fd = OpenBeneath(where->root->fd->get(), prefix, O_PATH | O_DIRECTORY, 0, resolver_);
    if (fd == -ENOENT) return absl::OkStatus();  // the rest will be made beneath this one
    if (fd < 0) return Open(field, path, Located{where->root, prefix}, O_PATH | O_DIRECTORY).status();
    close(fd);
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
