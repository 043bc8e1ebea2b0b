#pragma once
// One line per event on stderr, with a UTC timestamp and the component:
//   2024-05-01T12:00:00.123Z coordinator: job jobs/x placed ...
// Header-only and lock-free (one write(2) per line), so any thread may log.

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tunefleet {

inline void Log(absl::string_view component, absl::string_view message) {
  std::string line = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                                  component, ": ", message, "\n");
  const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace tunefleet
