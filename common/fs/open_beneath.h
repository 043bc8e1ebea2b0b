#pragma once
// The one primitive every confined open rests on: open `relative` beneath
// the directory `dir_fd`, resolving symbolic links at open time, so that no
// component (a symlink, "..", a magic /proc link) can lead outside it.
//
// openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it
// (Linux 5.6+); where it answers ENOSYS (older kernels, seccomp filters that
// do not know it) a walk opens one component at a time with O_NOFOLLOW, which
// refuses every symlink, even one that would stay inside.

#include <sys/types.h>

#include <string>

namespace tunefleet {

enum class BeneathResolver {
  kAuto,  // openat2, the component walk only on ENOSYS
  kWalk,  // the component walk always (what tests use to cover the fallback)
};

// `relative` must be relative and lexically normal (no "..", no "." but a
// lone "."); O_CLOEXEC and O_NOCTTY are always added. Returns the new
// descriptor, or -errno: EXDEV when resolution would leave `dir_fd`, ELOOP
// for a symlink the walk refused or a magic link.
int OpenBeneath(int dir_fd, const std::string& relative, int flags, mode_t mode,
                BeneathResolver resolver = BeneathResolver::kAuto);

}  // namespace tunefleet
