#pragma once
// Writes a bound port number to a file atomically (common/fs/atomic_file.h:
// a random O_EXCL temporary, then rename), so a reader (a test, a script)
// never sees a partial number and no planted link is followed.

#include <string>

#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"

namespace tunefleet {

inline bool WritePortFile(const std::string& path, int port) {
  return WriteFileAtomically(path, absl::StrCat(port, "\n")).ok();
}

}  // namespace tunefleet
