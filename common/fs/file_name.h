#pragma once
// Names made from user text (a display name, a job id) before they become a
// file or folder name: what a submitter typed must never become "..", a
// path with slashes, a hidden file or a control character in a log path.

#include <string>

#include "absl/strings/string_view.h"

namespace tunefleet {

// Keeps [A-Za-z0-9._-], turns every other byte into '_', trims leading dots
// (no "..", no hidden names) and caps the length at 100 bytes; "job" when
// nothing is left.
std::string SanitizeFileName(absl::string_view text);

}  // namespace tunefleet
