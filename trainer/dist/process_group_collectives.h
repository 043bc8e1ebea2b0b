#pragma once
// Collectives over one concrete c10d process group (ProcessGroupGloo, or
// ProcessGroupNCCL in the CUDA build). The concrete classes are called
// directly: in libtorch 2.x they derive from c10d::Backend and in 1.13 from
// c10d::ProcessGroup, but their constructors and Work-returning methods are
// the same, so this compiles against both.

#include <memory>

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "trainer/dist/collectives.h"

namespace tunefleet {

absl::StatusOr<std::unique_ptr<Collectives>> CreateGlooCollectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                                   int rank, int world_size,
                                                                   std::chrono::milliseconds timeout,
                                                                   const std::string& host);
#ifdef TUNEFLEET_WITH_CUDA
absl::StatusOr<std::unique_ptr<Collectives>> CreateNcclCollectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                                   int rank, int world_size,
                                                                   std::chrono::milliseconds timeout);
#endif

}  // namespace tunefleet
