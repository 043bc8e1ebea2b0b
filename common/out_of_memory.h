#pragma once
// What a trainer does when memory is refused: says so on stderr and exits
// kOutOfMemory at once, so its worker can name the limit that was reached.
// A new-handler, not a catch: it fires in any thread (no exception escapes
// one) and allocates nothing. Header-only.

#include <unistd.h>

#include <new>

#include "absl/strings/string_view.h"
#include "common/exit_codes.h"

namespace tunefleet {

inline void ExitWhenMemoryIsRefused() {
  std::set_new_handler([] {
    static constexpr char kMessage[] = "out of memory: an allocation was refused\n";
    const ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    (void)ignored;
    _exit(exit_codes::kOutOfMemory);
  });
}

// libtorch's allocators report a refused allocation as an error, not
// bad_alloc: "DefaultCPUAllocator: not enough memory", "CUDA out of memory".
inline bool SaysOutOfMemory(absl::string_view message) {
  return message.find("not enough memory") != absl::string_view::npos ||
         message.find("out of memory") != absl::string_view::npos ||
         message.find("std::bad_alloc") != absl::string_view::npos;
}

}  // namespace tunefleet
