#pragma once
// The few collectives data-parallel training needs, behind one interface, so
// the ZeRO optimizer does not care whether it runs on Gloo (CPU) or NCCL
// (CUDA). Every call names what it moves; failures (a dead peer, the timeout)
// come back as a Status naming the rank, the operation and the timeout.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

// Bytes this rank sends, two ways:
//   bytes_sent   what the operation sends as this class issues it on this
//                backend (the backend's algorithm; an emulated operation
//                counts what the emulation sends);
//   ideal_bytes  what the bandwidth-optimal (ring) collective with the same
//                result sends: all-reduce 2(N-1)/N of the tensor, all-gather
//                (N-1)/N of the output, reduce-scatter every piece but this
//                rank's own (equal pieces: (N-1)/N of the input), reduce the
//                whole tensor unless this rank is the root.
// They differ only where the backend lacks the collective (Gloo's
// reduce-scatter). Neither counts message headers or retransmissions.
struct CommStats {
  int64_t bytes_sent = 0;
  int64_t ideal_bytes = 0;
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
  // In-place reduce-scatter with pieces of any size: `input` is world_size
  // consecutive pieces, piece r `piece_sizes[r]` elements (possibly none);
  // once the work is waited for, rank r's piece of `input` holds the sum over
  // ranks of piece r (the other pieces' contents are unspecified),
  // asynchronous. Equal pieces on a backend that has reduce-scatter (NCCL)
  // are one real reduce-scatter; otherwise one reduce per non-empty piece to
  // its rank (libtorch 1.13's Gloo has no reduce-scatter at all).
  virtual absl::StatusOr<std::unique_ptr<CollectiveWork>> ReduceScatterSum(torch::Tensor input,
                                                                           std::vector<int64_t> piece_sizes,
                                                                           const std::string& what) = 0;
  // `output` (world_size chunks) gets every rank's `input` (one chunk), in
  // rank order. `input` may be output's own chunk.
  virtual absl::Status AllGather(torch::Tensor input, torch::Tensor output, const std::string& what) = 0;
  virtual absl::Status Barrier(const std::string& what) = 0;

  // Blocking all-reduce of a few doubles (loss sums, the norm).
  absl::StatusOr<std::vector<double>> SumDoubles(const std::vector<double>& values, const std::string& what);

  const CommStats& stats() const { return stats_; }
  void ResetStats() { stats_ = CommStats{}; }

  // Seconds this process has spent blocked in Wait() on its operations (the
  // blocking calls included) since it connected: the communication that
  // compute did not hide. On NCCL a wait only orders the streams, so this is
  // host time (see docs/distributed_training.md, "Where a step's time goes").
  double blocked_seconds() const { return static_cast<double>(blocked_ns_->load()) / 1e9; }

 protected:
  // Operations add their waits here; shared, as a wait may run on autograd's
  // thread (a stage 2 bucket launch) and outlive no one.
  const std::shared_ptr<std::atomic<int64_t>>& blocked_counter() const { return blocked_ns_; }

  void Count(int64_t bytes_sent, int64_t ideal_bytes) {
    stats_.bytes_sent += bytes_sent;
    stats_.ideal_bytes += ideal_bytes;
    ++stats_.operations;
  }

 private:
  CommStats stats_;
  std::shared_ptr<std::atomic<int64_t>> blocked_ns_ = std::make_shared<std::atomic<int64_t>>(0);
};

}  // namespace tunefleet
