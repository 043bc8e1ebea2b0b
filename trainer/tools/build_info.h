#pragma once
// What `tunefleet-trainer --version` prints: the libtorch, CUDA and NCCL
// versions compiled in, and the CUDA devices this process sees now, so an
// operator can tell from one command whether a node's trainer can use its
// GPUs (a libtorch binary runs only against the torch it was built with).

#include <string>

namespace tunefleet {

std::string TrainerBuildInfo();

}  // namespace tunefleet
