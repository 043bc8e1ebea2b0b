#pragma once
// A sweep's grid: axes of spec values (each a `--set` assignment) expanded
// into one job spec per point, on the CLI (early errors) and again on the
// coordinator (the authority). Bounded by common/sweep_limits.h.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "tunefleet/v1/job_spec.pb.h"
#include "tunefleet/v1/sweep_service.pb.h"

namespace tunefleet {

// One point of the grid: its value on each axis, in axis order, and the base
// spec with those values set.
struct SweepGridPoint {
  std::vector<std::string> values;
  v1::JobSpec spec;
};

// The cartesian product of `axes` over `base`, the last axis varying fastest.
// INVALID_ARGUMENT naming the axis and the value for: no axis, too many axes
// or points, an empty, overlong or repeated path or value, a value --set
// refuses, an expanded spec ValidateJobSpec refuses (naming the point), and
// points that would all export to one explicit export.directory.
absl::StatusOr<std::vector<SweepGridPoint>> ExpandSweepGrid(
    const v1::JobSpec& base, const google::protobuf::RepeatedPtrField<v1::SweepAxis>& axes);

// "path=v1,v2,..." (the CLI's --grid) as an axis. Values split at commas
// outside brackets, braces and quotes, so a YAML list is one value:
// "method.lora.target_modules=[q_proj,v_proj],[q_proj]".
absl::StatusOr<v1::SweepAxis> ParseSweepAxis(absl::string_view text);

// Relative path values (model, dataset, checkpoint and export paths) made
// absolute against `base_dir`, as LoadJobSpecWithOverrides does for --set.
absl::Status ResolveSweepAxisPaths(v1::SweepAxis& axis, const std::string& base_dir);

// "method.lora.rank=4, hyperparameters.learning_rate=1e-4": a point in words.
std::string DescribeSweepPoint(const google::protobuf::RepeatedPtrField<v1::SweepAxis>& axes,
                               const std::vector<std::string>& values);

}  // namespace tunefleet
