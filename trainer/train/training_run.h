#pragma once
// A whole training run of one rank: its components set up from the job spec,
// the Trainer (trainer.h) run over them, then rank 0 exports the model. The
// command line starts it (by hand, or as the worker's child).

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/dist/rendezvous.h"
#include "trainer/train/checkpoint_write_observer.h"
#include "trainer/train/trainer.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct RunOptions {
  std::string metrics_out;  // JSON-lines metrics stream; empty: none
  int log_every = 10;       // progress line every N steps (and the first and last)
  // Set from signal handlers, read at each step boundary and agreed over
  // ranks (any rank's request counts for all, so all save the same step):
  // stop_requested (SIGTERM, SIGINT): save a checkpoint, then return
  // RunEnd::kStoppedAfterCheckpoint; save_requested (SIGUSR1): save and go
  // on (the loop clears it).
  const std::atomic<bool>* stop_requested = nullptr;
  std::atomic<bool>* save_requested = nullptr;
  // The checkpoint folder's job id (--job-id); empty: $TUNEFLEET_JOB's last
  // component, else the spec's display_name, else "job".
  std::string job_id;
  // Where this rank meets the others (flags; torchrun's environment fills
  // what they leave unset). A world size above 1 trains data-parallel:
  // rank 0 alone writes the metrics stream and exports the model.
  LaunchFlags launch;
  // Encryption at rest of checkpoints and the export (--encryption-key-file;
  // empty: $TUNEFLEET_ENCRYPTION_KEY_FILE, set by the worker; neither: off).
  std::string encryption_key_file;
  // Tests only: a test build of the trainer installs it (never production).
  std::shared_ptr<CheckpointWriteObserver> checkpoint_write_observer;
};

// Trains per `spec` (defaults applied and validated here), resuming from the
// newest valid checkpoint under checkpoint.directory when there is one.
// Progress goes to stdout, metrics to the stream; errors come back naming
// what failed.
absl::StatusOr<RunEnd> RunTraining(const v1::JobSpec& spec, const RunOptions& options);

}  // namespace tunefleet
