#pragma once
// How sweeps look: `sweep get`'s table of points (axis values, state, step,
// losses) with the best point, and `sweep list`'s table.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tunefleet/v1/sweep_service.pb.h"

namespace tunefleet::cli {

std::string SweepStateName(v1::SweepState state);  // "RUNNING"
std::string SweepDetail(const v1::Sweep& sweep, absl::Time now);
std::string SweepsTable(const std::vector<v1::Sweep>& sweeps, absl::Time now);

}  // namespace tunefleet::cli
