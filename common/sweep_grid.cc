#include "common/sweep_grid.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/job_spec_defaults.h"
#include "common/job_spec_file.h"
#include "common/job_spec_validation.h"
#include "common/sweep_limits.h"

namespace tunefleet {
namespace {

// "hyperparameters.learningRate" and "hyperparameters.learning_rate" name one
// field (the proto3 JSON mapping takes both): one key for duplicate checks.
std::string FieldKey(absl::string_view path) {
  std::string key;
  for (char c : path) {
    if (c != '_') key.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return key;
}

absl::Status CheckAxis(const v1::SweepAxis& axis, int index) {
  const std::string which = absl::StrCat("axes[", index, "] (", axis.path().substr(0, 64), ")");
  if (axis.path().empty()) return absl::InvalidArgumentError(absl::StrCat("axes[", index, "]: path is empty"));
  if (static_cast<int64_t>(axis.path().size()) > sweep_limits::kMaxAxisPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(which, ": path is ", axis.path().size(), " bytes; at most ",
                                                   sweep_limits::kMaxAxisPathBytes));
  }
  if (axis.path().find('=') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(which, ": path may not hold '='"));
  }
  if (axis.values().empty()) return absl::InvalidArgumentError(absl::StrCat(which, ": no values"));
  if (axis.values_size() > sweep_limits::kMaxValuesPerAxis) {
    return absl::InvalidArgumentError(absl::StrCat(which, ": ", axis.values_size(), " values; at most ",
                                                   sweep_limits::kMaxValuesPerAxis));
  }
  std::set<std::string> seen;
  for (const std::string& value : axis.values()) {
    if (static_cast<int64_t>(value.size()) > sweep_limits::kMaxAxisValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(which, ": a value is ", value.size(), " bytes; at most ",
                                                     sweep_limits::kMaxAxisValueBytes));
    }
    if (!seen.insert(value).second) {
      return absl::InvalidArgumentError(absl::StrCat(which, ": value \"", value, "\" is given twice"));
    }
    // Each value alone, so the error names it rather than a whole point.
    v1::JobSpec scratch;
    if (auto s = ApplyJobSpecOverride(scratch, absl::StrCat(axis.path(), "=", value)); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, ": value \"", value.substr(0, 64), "\": ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string DescribeSweepPoint(const google::protobuf::RepeatedPtrField<v1::SweepAxis>& axes,
                               const std::vector<std::string>& values) {
  std::vector<std::string> parts;
  for (int i = 0; i < axes.size() && i < static_cast<int>(values.size()); ++i) {
    parts.push_back(absl::StrCat(axes[i].path(), "=", values[static_cast<size_t>(i)]));
  }
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<std::vector<SweepGridPoint>> ExpandSweepGrid(
    const v1::JobSpec& base, const google::protobuf::RepeatedPtrField<v1::SweepAxis>& axes) {
  if (axes.empty()) return absl::InvalidArgumentError("axes: a sweep needs at least one axis");
  if (axes.size() > sweep_limits::kMaxAxes) {
    return absl::InvalidArgumentError(
        absl::StrCat("axes: ", axes.size(), " axes; at most ", sweep_limits::kMaxAxes));
  }
  std::map<std::string, int> keys;
  int64_t points = 1;
  for (int i = 0; i < axes.size(); ++i) {
    if (auto s = CheckAxis(axes[i], i); !s.ok()) return s;
    auto [it, fresh] = keys.emplace(FieldKey(axes[i].path()), i);
    if (!fresh) {
      return absl::InvalidArgumentError(absl::StrCat("axes[", i, "] (", axes[i].path(), "): the same field as axes[",
                                                     it->second, "] (", axes[it->second].path(), ")"));
    }
    points *= axes[i].values_size();  // each <= 256 and at most 8 axes: no overflow before the check below
    if (points > sweep_limits::kMaxPoints) {
      return absl::InvalidArgumentError(absl::StrCat("axes: the grid has more than ", sweep_limits::kMaxPoints,
                                                     " points (the product of the axes' value counts)"));
    }
  }
  std::vector<SweepGridPoint> out;
  std::vector<int> digit(static_cast<size_t>(axes.size()), 0);  // an odometer: the last axis turns fastest
  for (int64_t p = 0; p < points; ++p) {
    SweepGridPoint point;
    point.spec = base;
    for (int a = 0; a < axes.size(); ++a) {
      const std::string& value = axes[a].values(digit[static_cast<size_t>(a)]);
      point.values.push_back(value);
      if (auto s = ApplyJobSpecOverride(point.spec, absl::StrCat(axes[a].path(), "=", value)); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("axes[", a, "] (", axes[a].path(), "): value \"", value,
                                                       "\": ", s.message()));
      }
    }
    if (auto s = ValidateJobSpec(WithDefaults(point.spec)); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("point ", p, " (", DescribeSweepPoint(axes, point.values), "): ", s.message()));
    }
    out.push_back(std::move(point));
    for (int a = axes.size() - 1; a >= 0; --a) {
      if (++digit[static_cast<size_t>(a)] < axes[a].values_size()) break;
      digit[static_cast<size_t>(a)] = 0;
    }
  }
  // Checkpoints go to <directory>/<job id>/, one folder per member; an
  // explicit export directory is the one place where points would collide.
  std::map<std::string, int64_t> exports;
  for (size_t p = 0; p < out.size(); ++p) {
    const std::string& dir = out[p].spec.export_().directory();
    if (dir.empty()) continue;
    auto [it, fresh] = exports.emplace(dir, static_cast<int64_t>(p));
    if (!fresh) {
      return absl::InvalidArgumentError(absl::StrCat(
          "export.directory: points ", it->second, " and ", p, " would both export to ", dir,
          "; leave it empty (each job exports beneath its checkpoint folder) or vary it on an axis"));
    }
  }
  return out;
}

absl::StatusOr<v1::SweepAxis> ParseSweepAxis(absl::string_view text) {
  if (static_cast<int64_t>(text.size()) > sweep_limits::kMaxGridTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grid: ", text.size(), " bytes; at most ", sweep_limits::kMaxGridTextBytes));
  }
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--grid '", text.substr(0, 64), "': want path=value,value,... (e.g. method.lora.rank=4,8)"));
  }
  v1::SweepAxis axis;
  axis.set_path(std::string(absl::StripAsciiWhitespace(text.substr(0, eq))));
  const absl::string_view values = text.substr(eq + 1);
  std::string current;
  int depth = 0;
  char quote = 0;
  auto finish = [&]() -> absl::Status {
    std::string value(absl::StripAsciiWhitespace(current));
    current.clear();
    if (value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--grid ", axis.path(), ": an empty value (two commas in a row, or one at an end)"));
    }
    if (axis.values_size() >= sweep_limits::kMaxValuesPerAxis) {
      return absl::InvalidArgumentError(
          absl::StrCat("--grid ", axis.path(), ": more than ", sweep_limits::kMaxValuesPerAxis, " values"));
    }
    axis.add_values(std::move(value));
    return absl::OkStatus();
  };
  for (char c : values) {
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth < 0) {
        return absl::InvalidArgumentError(absl::StrCat("--grid ", axis.path(), ": unbalanced '", std::string(1, c),
                                                       "'"));
      }
    } else if (c == ',' && depth == 0) {
      if (auto s = finish(); !s.ok()) return s;
      continue;
    }
    current.push_back(c);
  }
  if (quote != 0 || depth != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--grid ", axis.path(), ": an unclosed quote or bracket"));
  }
  if (auto s = finish(); !s.ok()) return s;
  return axis;
}

absl::Status ResolveSweepAxisPaths(v1::SweepAxis& axis, const std::string& base_dir) {
  for (std::string& value : *axis.mutable_values()) {
    v1::JobSpec as_set;
    if (auto s = ApplyJobSpecOverride(as_set, absl::StrCat(axis.path(), "=", value)); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--grid ", axis.path(), ": value \"", value.substr(0, 64), "\": ", s.message()));
    }
    v1::JobSpec resolved = as_set;
    ResolveJobSpecPaths(resolved, base_dir);
    // At most one of the path fields differs: the one this axis sets.
    const std::pair<const std::string*, const std::string*> fields[] = {
        {&as_set.model().path(), &resolved.model().path()},
        {&as_set.dataset().path(), &resolved.dataset().path()},
        {&as_set.dataset().validation_path(), &resolved.dataset().validation_path()},
        {&as_set.checkpoint().directory(), &resolved.checkpoint().directory()},
        {&as_set.export_().directory(), &resolved.export_().directory()},
    };
    for (const auto& [before, after] : fields) {
      if (*before != *after) value = *after;
    }
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
