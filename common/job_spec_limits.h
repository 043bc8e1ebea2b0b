#pragma once
// The documented bounds of every JobSpec field (docs/job_spec.md, "Limits"),
// enforced by ValidateJobSpec. Each is far beyond any real fine-tuning job and
// small enough that the numbers derived from it (steps, tokens, bytes,
// milliseconds) stay well inside int64 and the coordinator's messages.

#include <cstdint>

namespace tunefleet::job_spec_limits {

// The serialized spec. A Job carries its spec in every ListJobs page and
// WatchJob event; 64 KiB keeps one job far below gRPC's 4 MiB message limit.
inline constexpr int64_t kMaxSpecBytes = 64 * 1024;
// The YAML or JSON text of a spec file (comments and spacing included).
inline constexpr int64_t kMaxSpecTextBytes = 1024 * 1024;
inline constexpr int64_t kMaxDisplayNameBytes = 256;
inline constexpr int64_t kMaxPathBytes = 4096;  // PATH_MAX
inline constexpr int32_t kMaxAbsPriority = 1'000'000;

// Optimizer steps (max_steps, warmup, checkpoint and evaluation intervals):
// 10^9 steps is years of training; at this bound step * global_batch_size *
// sequence_length still fits in int64.
inline constexpr int64_t kMaxSteps = 1'000'000'000;
inline constexpr double kMaxEpochs = 100'000;
inline constexpr int32_t kMaxMicroBatchSize = 65'536;
inline constexpr int32_t kMaxGlobalBatchSize = 1 << 24;
inline constexpr int32_t kMinSequenceLength = 8;
inline constexpr int32_t kMaxSequenceLength = 1 << 20;
inline constexpr int32_t kMaxWorldSize = 4096;

inline constexpr int32_t kMaxLoraRank = 1024;
inline constexpr double kMaxLoraAlpha = 1e6;
inline constexpr int kMaxLoraTargetModules = 7;  // each of the seven known projections at most once

inline constexpr double kMaxWeightDecay = 10;
inline constexpr double kMaxAdamEpsilon = 1;
inline constexpr double kMaxGradNorm = 1e6;

inline constexpr int32_t kMaxBucketSizeMb = 4096;
inline constexpr int32_t kMaxCollectiveTimeoutSeconds = 7 * 24 * 3600;
inline constexpr int64_t kMaxCheckpointIntervalSeconds = 30 * 24 * 3600;
inline constexpr int32_t kMaxKeepLast = 1000;
inline constexpr int32_t kMaxRestarts = 1000;
inline constexpr int32_t kMaxEvalBatches = 1'000'000;
inline constexpr int32_t kMaxEarlyStoppingPatience = 1000;
inline constexpr double kMaxEarlyStoppingMinDelta = 1e6;

// evaluation.after_training: generation is the slow part (a reply per
// example per model), so these bound one job's evaluation stage.
inline constexpr int32_t kMaxAfterTrainingExamples = 100'000;
inline constexpr int32_t kMaxAfterTrainingNewTokens = 4096;
inline constexpr int kMaxAfterTrainingStops = 8;
inline constexpr int64_t kMaxAfterTrainingStopBytes = 64;
inline constexpr int64_t kMaxSystemMessageBytes = 8192;
inline constexpr int32_t kMinBootstrapResamples = 100;
inline constexpr int32_t kMaxBootstrapResamples = 100'000;

// Multi-task mixes (dataset.tasks). 16 tasks keep a metrics line within a
// sample's 64 entries (common/metric_sample_limits.h: three figures per task
// on a step line) and Prometheus' task label within a small cardinality.
inline constexpr int kMaxDatasetTasks = 16;
inline constexpr int64_t kMaxTaskNameBytes = 32;
inline constexpr double kMaxTaskWeight = 1e6;
inline constexpr double kMaxTaskLossWeight = 100;
inline constexpr double kMinMixTemperature = 0.01;
inline constexpr double kMaxMixTemperature = 100;

}  // namespace tunefleet::job_spec_limits
