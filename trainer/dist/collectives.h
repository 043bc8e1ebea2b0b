#pragma once
// The few collectives data-parallel training needs, behind one interface, so
// the ZeRO optimizer does not care whether it runs on Gloo (CPU) or NCCL
// (CUDA). Every call names what it moves; failures (a dead peer, the timeout)
// come back as a Status naming the rank, the operation and the timeout.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tunefleet {

// An operation in flight; Wait() finishes it (or reports why it failed).
class CollectiveWork {
 public:
  virtual ~CollectiveWork() = default;
  virtual absl::Status Wait() = 0;
};

// Bytes this rank sends, per the bandwidth-optimal (ring) algorithm of each
// operation as this class issues it: all-reduce 2(N-1)/N of the tensor,
// reduce-scatter and all-gather (N-1)/N of the full buffer, reduce (N-1)/N.
// An emulated operation counts what the emulation sends.
struct CommStats {
  int64_t bytes_sent = 0;
  int64_t operations = 0;
};

class Collectives {
 public:
  virtual ~Collectives() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::chrono::milliseconds timeout() const = 0;
  virtual std::string backend() const = 0;

  // In-place sum over ranks, asynchronous.
  virtual absl::StatusOr<std::unique_ptr<CollectiveWork>> AllReduceSum(torch::Tensor tensor,
                                                                       const std::string& what) = 0;
  // Sum over ranks into `root`'s tensor (others' contents afterwards are
  // unspecified), asynchronous.
  virtual absl::StatusOr<std::unique_ptr<CollectiveWork>> ReduceSum(torch::Tensor tensor, int root,
                                                                    const std::string& what) = 0;
  // `input` holds world_size equal chunks; `output` (one chunk's size, may be
  // input's own chunk `rank`) gets the sum over ranks of chunk `rank`.
  virtual absl::Status ReduceScatterSum(torch::Tensor input, torch::Tensor output, const std::string& what) = 0;
  // `output` (world_size chunks) gets every rank's `input` (one chunk), in
  // rank order. `input` may be output's own chunk.
  virtual absl::Status AllGather(torch::Tensor input, torch::Tensor output, const std::string& what) = 0;
  virtual absl::Status Barrier(const std::string& what) = 0;

  // Blocking all-reduce of a few doubles (loss sums, the norm).
  absl::StatusOr<std::vector<double>> SumDoubles(const std::vector<double>& values, const std::string& what);

  const CommStats& stats() const { return stats_; }
  void ResetStats() { stats_ = CommStats{}; }

 protected:
  void Count(int64_t bytes) {
    stats_.bytes_sent += bytes;
    ++stats_.operations;
  }

 private:
  CommStats stats_;
};

}  // namespace tunefleet
