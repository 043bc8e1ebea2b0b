#pragma once
// Random tokens, their SHA-256, and files written atomically with a mode
// (0600 for keys and tokens) that never follow a planted symlink.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet::security {

// `bytes` bytes from the kernel's CSPRNG (getrandom), hex-encoded.
std::string RandomHex(size_t bytes);
std::string Sha256Hex(absl::string_view data);

// Writes a sibling temporary (mkstemp: O_EXCL, a fresh name, so no symlink is
// followed), sets `mode`, fsyncs and renames it over `path`.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, unsigned mode);
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace tunefleet::security
