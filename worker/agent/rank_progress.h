#pragma once
// A rank's newest figures, as its metrics stream last reported them
// (metrics_tail.h reads them; /metrics shows them). A figure the rank has not
// reported yet is absent, so no series shows a made-up zero.

#include <cstdint>
#include <optional>

namespace tunefleet::worker {

struct RankProgress {
  int64_t step = 0;
  double train_loss = 0;
  double tokens_per_second = 0;
  // "step" events.
  std::optional<double> learning_rate;
  std::optional<double> grad_norm;
  // "eval" events.
  std::optional<double> eval_loss;
  // "checkpoint" events: the newest save (the rank that commits reports it).
  std::optional<double> checkpoint_save_seconds;   // writing the files
  std::optional<double> checkpoint_bytes;          // every rank's files
  std::optional<double> checkpoint_stall_seconds;  // training paused for it
};

}  // namespace tunefleet::worker
