#include "common/job_spec_paths.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

// True when normalised `path` is `root` or below it, component by component
// (so "/shared2" is not under "/shared").
bool IsUnder(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // the trailing "" of "/shared/"
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

absl::Status CheckPathsUnderRoots(const v1::JobSpec& spec, const std::vector<std::string>& roots) {
  if (roots.empty()) return absl::OkStatus();
  const std::pair<const char*, const std::string*> fields[] = {
      {"model.path", &spec.model().path()},
      {"dataset.path", &spec.dataset().path()},
      {"dataset.validation_path", &spec.dataset().validation_path()},
      {"checkpoint.directory", &spec.checkpoint().directory()},
      {"export.directory", &spec.export_().directory()},
  };
  const std::string allowed = absl::StrJoin(roots, ", ");
  for (const auto& [field, value] : fields) {
    if (value->empty()) continue;
    const fs::path path = fs::path(*value).lexically_normal();
    if (!path.is_absolute()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": \"", *value,
                                                     "\" is relative; this coordinator takes absolute paths under ",
                                                     allowed));
    }
    bool inside = false;
    for (const auto& root : roots) inside = inside || IsUnder(path, fs::path(root).lexically_normal());
    if (!inside) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": \"", *value, "\" is outside the allowed path roots (", allowed, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
