#pragma once
// The bounds of a sweep's grid (docs/sweeps.md, "Limits"), enforced by
// ExpandSweepGrid (common/sweep_grid.h) on the CLI and the coordinator: a
// sweep is saved in one transaction with every member job, so its size is
// bounded like any other input.

#include <cstdint>

namespace tunefleet::sweep_limits {

inline constexpr int kMaxAxes = 8;
inline constexpr int kMaxPoints = 256;           // the product of the axes' sizes
inline constexpr int kMaxValuesPerAxis = 256;
inline constexpr int64_t kMaxAxisPathBytes = 256;
inline constexpr int64_t kMaxAxisValueBytes = 4096;  // a path value (kMaxPathBytes)
inline constexpr int64_t kMaxGridTextBytes = 64 * 1024;  // one --grid argument
// Member ids are "{sweep id}-{point}": 48 + 1 + 3 digits stays within a job id's 63.
inline constexpr int64_t kMaxSweepIdBytes = 48;

}  // namespace tunefleet::sweep_limits
