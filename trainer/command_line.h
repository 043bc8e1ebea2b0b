#pragma once
// tunefleet-trainer's command line (its subcommands and flags: see
// command_line.cc), callable from a main. The production main passes no
// hooks; a test build of the trainer (tests/testing/) passes its own.

#include <memory>

#include "trainer/train/checkpoint_write_observer.h"

namespace tunefleet {

// What a test build injects into the run; empty in production.
struct TrainerHooks {
  std::shared_ptr<CheckpointWriteObserver> checkpoint_write_observer;
};

// Parses the command line and runs the subcommand; returns the exit code.
int TrainerMain(int argc, char** argv, const TrainerHooks& hooks);

}  // namespace tunefleet
