#pragma once
// How jobs and workers look in tables and in `get`'s detail view.

#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"
#include "tunefleet/v1/job.pb.h"
#include "tunefleet/v1/worker.pb.h"

namespace tunefleet::cli {

std::string StateName(v1::JobState state);        // "RUNNING"
std::string StateName(v1::WorkerState state);     // "CORDONED"
bool IsFinal(v1::JobState state);

// Compact durations: "45s", "3m", "2h5m", "4d".
std::string CompactDuration(absl::Duration d);
// Age of a timestamp relative to `now`; "-" when unset.
std::string FormatAge(const google::protobuf::Timestamp& t, absl::Time now);
std::string FormatTime(const google::protobuf::Timestamp& t);  // RFC 3339, "-" when unset

std::string JobsTable(const std::vector<v1::Job>& jobs, absl::Time now);
std::string JobDetail(const v1::Job& job, absl::Time now);
// A multi-task job's tasks (JobProgress.tasks), one row each: mix
// probability (as of the newest evaluation), loss weight, losses, counts.
std::string TasksTable(const v1::Job& job);
std::string WorkersTable(const std::vector<v1::Worker>& workers, absl::Time now);

}  // namespace tunefleet::cli
