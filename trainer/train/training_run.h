#pragma once
// A whole training run of one rank: set up from the job spec, train, evaluate,
// export. The command line and, later, the worker start it.

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct RunOptions {
  std::string metrics_out;  // JSON-lines metrics stream; empty: none
  int log_every = 10;       // progress line every N steps (and the first and last)
  // Set from a signal handler: stop after the current step (and, once
  // checkpoints exist, save first).
  const std::atomic<bool>* stop_requested = nullptr;
};

// Trains per `spec` (defaults applied and validated here). Progress goes to
// stdout, metrics to the stream; errors come back naming what failed.
absl::Status RunTraining(const v1::JobSpec& spec, const RunOptions& options);

}  // namespace tunefleet
