#include "common/fs/file_name.h"

namespace tunefleet {

std::string SanitizeFileName(absl::string_view text) {
  constexpr size_t kMaxLength = 100;  // well under NAME_MAX (255) with ".tmp-..." and step suffixes
  std::string name;
  for (const char c : text) {
    if (name.size() == kMaxLength) break;
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.';
    if (name.empty() && c == '.') continue;
    name.push_back(safe ? c : '_');
  }
  return name.empty() ? "job" : name;
}

}  // namespace tunefleet
