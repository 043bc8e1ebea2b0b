#include "common/job_spec_paths.h"

#include <limits.h>
#include <stdlib.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

enum class Kind { kModel, kDataFile, kDirectory };

struct Field {
  std::string name;
  const std::string* value;
  Kind kind;
};

std::vector<Field> PathFields(const v1::JobSpec& spec) {
  std::vector<Field> fields = {
      {"model.path", &spec.model().path(), Kind::kModel},
      {"dataset.path", &spec.dataset().path(), Kind::kDataFile},
      {"dataset.validation_path", &spec.dataset().validation_path(), Kind::kDataFile},
      {"checkpoint.directory", &spec.checkpoint().directory(), Kind::kDirectory},
      {"export.directory", &spec.export_().directory(), Kind::kDirectory},
      {"evaluation.after_training.data_path", &spec.evaluation().after_training().data_path(), Kind::kDataFile},
      {"evaluation.after_training.baseline_model", &spec.evaluation().after_training().baseline_model(),
       Kind::kModel},
      {"evaluation.after_training.baseline_adapter", &spec.evaluation().after_training().baseline_adapter(),
       Kind::kModel},
  };
  // A multi-task mix's files, confined like dataset.path.
  for (int i = 0; i < spec.dataset().tasks_size(); ++i) {
    const v1::DatasetTask& task = spec.dataset().tasks(i);
    fields.push_back({absl::StrCat("dataset.tasks[", i, "].path"), &task.path(), Kind::kDataFile});
    fields.push_back({absl::StrCat("dataset.tasks[", i, "].validation_path"), &task.validation_path(), Kind::kDataFile});
  }
  return fields;
}

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

// The real path of `path`'s longest existing leading part, with the rest
// appended; empty when nothing of it exists here.
std::string RealPathBestEffort(const fs::path& path) {
  fs::path existing = path;
  fs::path rest;
  while (!existing.empty() && existing != existing.root_path()) {
    char real[PATH_MAX + 1] = {};
    if (realpath(existing.c_str(), real) != nullptr) {
      return rest.empty() ? std::string(real) : (fs::path(real) / rest).lexically_normal().string();
    }
    rest = rest.empty() ? existing.filename() : existing.filename() / rest;
    existing = existing.parent_path();
  }
  return "";
}

bool UnderAnyRoot(const fs::path& path, const std::vector<std::string>& roots, bool real) {
  for (const auto& root : roots) {
    fs::path r = fs::path(root).lexically_normal();
    if (real) {
      const std::string resolved = RealPathBestEffort(r);
      if (!resolved.empty()) r = resolved;
    }
    if (IsUnder(path, r)) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckPathsUnderRoots(const v1::JobSpec& spec, const std::vector<std::string>& roots) {
  const std::string allowed = absl::StrCat("[", absl::StrJoin(roots, ", "), "]");
  for (const Field& field : PathFields(spec)) {
    const std::string& value = *field.value;
    if (value.empty()) continue;
    const fs::path path = fs::path(value).lexically_normal();
    if (path.is_absolute()) {
      if (const std::string tree = SystemTreeOf(path.string()); !tree.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field.name, " \"", value, "\" is ",
                                                       tree == "/" ? "/ itself" : absl::StrCat("in ", tree),
                                                       ", which jobs may never read or write"));
      }
    }
    const std::string real = path.is_absolute() ? RealPathBestEffort(path) : "";
    if (const std::string tree = SystemTreeOf(real); !real.empty() && !tree.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field.name, " \"", value, "\" resolves to \"", real, "\", in ",
                                                     tree, ", which jobs may never read or write"));
    }
    if (roots.empty()) continue;
    if (!path.is_absolute()) {
      return absl::InvalidArgumentError(absl::StrCat(field.name, " \"", value,
                                                     "\" is relative: give an absolute path beneath the allowed roots ",
                                                     allowed));
    }
    if (!UnderAnyRoot(path, roots, /*real=*/false)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field.name, " \"", value, "\" is outside the allowed roots ", allowed));
    }
    // Seen from here, a link inside a root may already point out of it (the
    // trainer refuses it at open in any case; this says so at submit).
    if (!real.empty() && !UnderAnyRoot(real, roots, /*real=*/true)) {
      return absl::InvalidArgumentError(absl::StrCat(field.name, " \"", value, "\" resolves to \"", real,
                                                     "\", outside the allowed roots ", allowed));
    }
  }
  return absl::OkStatus();
}

absl::Status OpenSpecPaths(const v1::JobSpec& spec, const PathPolicy& policy) {
  for (const Field& field : PathFields(spec)) {
    const std::string& value = *field.value;
    if (value.empty()) continue;
    absl::Status status;
    switch (field.kind) {
      case Kind::kModel:
        status = policy.OpenFileOrDirectory(field.name, value).status();
        break;
      case Kind::kDataFile:
        status = policy.OpenFile(field.name, value).status();
        break;
      case Kind::kDirectory:
        status = policy.CheckDirectoryTarget(field.name, value);
        break;
    }
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
