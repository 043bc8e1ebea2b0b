#include "trainer/checkpoint/async_saver.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/commit.h"
#include "trainer/checkpoint/rank_writer.h"
#include "trainer/checkpoint/retention.h"

namespace tunefleet {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A copy that shares nothing with the training tensors (clone even on the
// CPU: the optimizer updates them in place right after Start returns).
torch::Tensor HostCopy(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, t.scalar_type(), /*non_blocking=*/false, /*copy=*/true).contiguous();
}

}  // namespace

absl::StatusOr<RankCheckpointState> SnapshotToHost(const RankCheckpointState& state) {
  try {
    RankCheckpointState copy;
    copy.rank = state.rank;
    copy.world_size = state.world_size;
    copy.save_id = state.save_id;
    copy.trainer_state = state.trainer_state;
    copy.model_weights.reserve(state.model_weights.size());
    for (const auto& [name, tensor] : state.model_weights) {
      if (!tensor.defined()) return absl::InvalidArgumentError(absl::StrCat("weight '", name, "' is undefined"));
      copy.model_weights.emplace_back(name, HostCopy(tensor));
    }
    if (state.optimizer_shard) {
      OptimizerShardState shard = *state.optimizer_shard;
      for (torch::Tensor* t : {&shard.master, &shard.exp_avg, &shard.exp_avg_sq}) {
        if (!t->defined()) return absl::InvalidArgumentError("an optimizer state tensor is undefined");
        *t = HostCopy(*t);
      }
      copy.optimizer_shard = std::move(shard);
    }
    return copy;
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot snapshot the checkpoint state to host memory: ", e.what()));
  }
}

AsyncCheckpointSaver::AsyncCheckpointSaver(AsyncSaverOptions options) : options_(std::move(options)) {}

AsyncCheckpointSaver::~AsyncCheckpointSaver() { JoinWriter(); }

void AsyncCheckpointSaver::JoinWriter() {
  if (writer_.joinable()) writer_.join();
}

absl::Status AsyncCheckpointSaver::Start(const RankCheckpointState& state, std::optional<double> loss) {
  SaveTimings timings;
  timings.step = state.trainer_state.step;
  const Clock::time_point wait_start = Clock::now();
  JoinWriter();  // one snapshot in memory at a time
  timings.wait_previous_seconds = SecondsSince(wait_start);

  const Clock::time_point snapshot_start = Clock::now();
  absl::StatusOr<RankCheckpointState> snapshot = SnapshotToHost(state);
  timings.snapshot_seconds = SecondsSince(snapshot_start);
  if (!snapshot.ok()) return snapshot.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = true;
    last_stall_seconds_ = timings.wait_previous_seconds + timings.snapshot_seconds;
  }
  try {
    writer_ = std::thread(&AsyncCheckpointSaver::RunWriter, this, *std::move(snapshot), loss, timings);
  } catch (const std::exception& e) {  // std::system_error: no thread could be started
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = false;
    return absl::ResourceExhaustedError(absl::StrCat("cannot start the checkpoint writer thread: ", e.what()));
  }
  return absl::OkStatus();
}

void AsyncCheckpointSaver::RunWriter(RankCheckpointState snapshot, std::optional<double> loss, SaveTimings timings) {
  const Clock::time_point start = Clock::now();
  absl::Status status;
  try {
    absl::StatusOr<RankFilesRecord> record =
        WriteRankFiles(options_.root, snapshot, options_.write_hook, options_.encryption.get());
    if (record.ok()) {
      for (const FileRecord& file : record->files) timings.bytes_written += file.size_bytes;
    } else {
      status = record.status();
    }
    // Free the snapshot as soon as it is on disk, before the commit wait.
    const int rank = snapshot.rank;
    CommitRequest request;
    request.step = snapshot.trainer_state.step;
    request.world_size = snapshot.world_size;
    request.save_id = snapshot.save_id;
    request.loss = loss;
    request.wait_for_ranks = options_.wait_for_ranks;
    request.fence = options_.commit_fence;
    request.commit_guard = options_.commit_guard;
    request.lineage = options_.lineage;
    snapshot = RankCheckpointState();
    if (status.ok() && rank == options_.commit_rank) {
      absl::StatusOr<Manifest> manifest = CommitManifest(options_.root, request);
      status = manifest.status();
      timings.committed = manifest.ok();
      if (status.ok() && options_.keep_last > 0) {
        absl::StatusOr<RetentionReport> retention = ApplyRetention(
            options_.root, options_.keep_last, options_.log,
            options_.also_keep ? options_.also_keep() : std::nullopt);
        if (!retention.ok()) {
          status = absl::Status(retention.status().code(),
                                absl::StrCat("step ", request.step, " committed, but retention failed: ",
                                             retention.status().message()));
        }
      }
    }
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("checkpoint writer: ", e.what()));
  } catch (...) {
    status = absl::InternalError("checkpoint writer: unknown exception");
  }
  timings.write_seconds = SecondsSince(start);
  if (!status.ok()) {
    status = absl::Status(status.code(), absl::StrCat("checkpoint save of step ", timings.step, " failed: ",
                                                      status.message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  completed_.push_back(SaveOutcome{status, timings});
  newest_status_ = status;
  in_flight_ = false;
}

std::optional<SaveOutcome> AsyncCheckpointSaver::TakeCompleted() {
  std::lock_guard<std::mutex> lock(mu_);
  if (completed_.empty()) return std::nullopt;
  SaveOutcome outcome = std::move(completed_.front());
  completed_.pop_front();
  return outcome;
}

absl::Status AsyncCheckpointSaver::Wait() {
  JoinWriter();
  std::lock_guard<std::mutex> lock(mu_);
  return newest_status_;
}

bool AsyncCheckpointSaver::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

double AsyncCheckpointSaver::last_stall_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_stall_seconds_;
}

}  // namespace tunefleet
