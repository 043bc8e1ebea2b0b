#pragma once
// Validation of a multi-task dataset (DatasetSpec.tasks and .mixing), for
// ValidateJobSpec: the bounds of docs/job_spec.md, "Multi-task mixes".
// Runs on a spec with its defaults applied (common/job_spec_defaults).

#include "absl/status/status.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// OK for a single-file dataset without mixing settings, or a valid list of
// tasks; else INVALID_ARGUMENT naming the field (e.g. "dataset.tasks[1].name").
absl::Status ValidateDatasetTasks(const v1::DatasetSpec& dataset, const v1::EvaluationSpec& evaluation);

// [A-Za-z0-9_.-], 1 to job_spec_limits::kMaxTaskNameBytes bytes: the name
// goes into metric keys, Prometheus labels and file names as it is.
bool IsValidTaskName(const std::string& name);

}  // namespace tunefleet
