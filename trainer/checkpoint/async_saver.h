#pragma once
// Asynchronous save: at a step boundary Start() copies this rank's state to
// host memory (the only stall the training loop sees) and a background
// thread writes the files, and on the committing rank waits for the other
// ranks' records on storage and commits the manifest (no collective leaves
// the training thread). One save in flight at a time, so host memory holds
// at most one snapshot. Nothing thrown on the thread escapes it: every
// outcome comes back as a SaveOutcome with an absl::Status.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/rank_state.h"

namespace tunefleet {

struct AsyncSaverOptions {
  CheckpointRoot root;
  int commit_rank = 0;
  // How long the committing rank waits for the others' files.
  std::chrono::milliseconds wait_for_ranks{std::chrono::minutes(10)};
  // >0: the committing rank applies retention after each commit.
  int keep_last = 0;
  // Asked at each retention: a committed step kept besides the newest
  // keep_last (the best by validation loss); null or nullopt: none. Called
  // on the writer thread.
  std::function<std::optional<int64_t>()> also_keep;
  CheckpointLog log;
  WriteProgressHook write_hook;  // tests: fault injection, pausing the writer
  std::function<absl::Status()> commit_fence;  // CommitRequest::fence
  std::function<absl::Status(const std::function<absl::Status()>&)> commit_guard;  // CommitRequest::commit_guard
  std::optional<Lineage> lineage;              // CommitRequest::lineage
  // Encrypts every data file under the ring's current key; null: plaintext.
  std::shared_ptr<const crypto::KeyRing> encryption;
};

// What the metrics stream reports per save.
struct SaveTimings {
  int64_t step = 0;
  double wait_previous_seconds = 0;  // Start() blocked on the previous save's writer
  double snapshot_seconds = 0;       // Start() copying state to host: the training stall
  double write_seconds = 0;          // background: files, fsyncs, and on the committing rank the commit
  uint64_t bytes_written = 0;        // this rank's files
  bool committed = false;            // this rank committed the manifest
};

struct SaveOutcome {
  absl::Status status;  // e.g. RESOURCE_EXHAUSTED naming the file on ENOSPC
  SaveTimings timings;
};

class AsyncCheckpointSaver {
 public:
  explicit AsyncCheckpointSaver(AsyncSaverOptions options);
  // Waits for the save in flight (a checkpoint is worth the wait).
  ~AsyncCheckpointSaver();
  AsyncCheckpointSaver(const AsyncCheckpointSaver&) = delete;
  AsyncCheckpointSaver& operator=(const AsyncCheckpointSaver&) = delete;

  // Blocks for the previous save if still writing, snapshots `state`
  // (clones every tensor to CPU), starts the writer and returns: the
  // caller may then change its tensors. Returns an error only for this
  // snapshot (nothing started); a failure of the previous save comes back
  // from TakeCompleted()/Wait(), never lost.
  absl::Status Start(const RankCheckpointState& state, std::optional<double> loss = std::nullopt);

  // The oldest finished save not yet taken, without blocking; nullopt when
  // none. Call once per step to report timings and errors.
  std::optional<SaveOutcome> TakeCompleted();

  // Blocks until no save is in flight; the status of the newest save
  // (OK when there was none). Outcomes stay available to TakeCompleted().
  absl::Status Wait();

  bool InFlight() const;
  // Timings of the save Start() last launched, as far as known now.
  double last_stall_seconds() const;

 private:
  void JoinWriter();
  void RunWriter(RankCheckpointState snapshot, std::optional<double> loss, SaveTimings timings);

  AsyncSaverOptions options_;
  mutable std::mutex mu_;
  std::thread writer_;
  bool in_flight_ = false;
  std::deque<SaveOutcome> completed_;
  absl::Status newest_status_;
  double last_stall_seconds_ = 0;
};

// The deep copy Start() makes: every tensor cloned to contiguous CPU memory.
absl::StatusOr<RankCheckpointState> SnapshotToHost(const RankCheckpointState& state);

}  // namespace tunefleet
