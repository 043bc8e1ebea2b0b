#pragma once
// A multi-task job's per-task progress (JobProgress.tasks), folded from rank
// 0's metric samples: the "task_*/<name>" fields of common/metric_keys.h.
// Bounded: only the tasks the job's spec names, in the spec's order (at most
// job_spec_limits::kMaxDatasetTasks); other names are ignored, so a worker
// cannot grow a job's progress or the Prometheus series.

#include "tunefleet/v1/job.pb.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet::coordinator {

// Adds `sample` (rank 0's) to `progress`: losses and mix probabilities take
// the newest value; tokens and examples add up, each step once (a step
// trained again after a restart is not counted twice).
void AddTaskFigures(const v1::MetricSample& sample, const v1::DatasetSpec& dataset, v1::JobProgress& progress);

}  // namespace tunefleet::coordinator
