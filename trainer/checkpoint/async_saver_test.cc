// The asynchronous saver: the training thread goes on while the writer
// writes (shown by holding the writer on a condition, not by timing), the
// snapshot is isolated from later updates, and errors come back as Status.

#include "trainer/checkpoint/async_saver.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checkpoint_test_state.h"
#include "trainer/checkpoint/loader.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::BitwiseEqual;
using testing::MakeRankState;
using testing::ScopedTestRoot;

constexpr auto kDeadline = std::chrono::seconds(30);

// Holds the writer inside its first file until released, and tells the
// test when the writer got there. Waits have deadlines, so a bug fails the
// test instead of hanging it.
class WriterGate {
 public:
  WriteProgressHook Hook() {
    return [this](const std::string&, uint64_t) {
      std::unique_lock<std::mutex> lock(mu_);
      entered_ = true;
      cv_.notify_all();
      if (!cv_.wait_for(lock, kDeadline, [&] { return released_; })) {
        return absl::DeadlineExceededError("the test never released the writer");
      }
      return absl::OkStatus();
    };
  }
  bool WaitUntilEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return entered_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

absl::StatusOr<LoadedCheckpoint> ResumeRank0(const CheckpointRoot& root) {
  ResumeRequest request;
  request.log = [](const std::string&) {};
  return LoadNewestValid(root, request);
}

TEST(AsyncSaverTest, TrainingContinuesWhileTheWriterWrites) {
  ScopedTestRoot tmp;
  WriterGate gate;
  AsyncSaverOptions options;
  options.root = tmp.Job();
  options.write_hook = gate.Hook();
  AsyncCheckpointSaver saver(options);

  RankCheckpointState live = MakeRankState(0, 1, 5000, 10, 4);
  const RankCheckpointState original = MakeRankState(0, 1, 5000, 10, 4);
  ASSERT_TRUE(saver.Start(live, 2.5).ok());
  // The writer is inside a file and cannot finish...
  ASSERT_TRUE(gate.WaitUntilEntered());
  EXPECT_TRUE(saver.InFlight());
  EXPECT_FALSE(saver.TakeCompleted().has_value());
  // ...while this thread trains on: in-place updates of the live tensors.
  live.optimizer_shard->master.add_(1.0f);
  live.optimizer_shard->exp_avg.mul_(3.0f);
  live.model_weights[0].second.zero_();
  EXPECT_TRUE(saver.InFlight());
  gate.Release();

  ASSERT_TRUE(saver.Wait().ok());
  EXPECT_FALSE(saver.InFlight());
  std::optional<SaveOutcome> outcome = saver.TakeCompleted();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->status.ok()) << outcome->status;
  EXPECT_EQ(outcome->timings.step, 10);
  EXPECT_TRUE(outcome->timings.committed);
  EXPECT_GT(outcome->timings.bytes_written, 3u * 5000 * 4);
  EXPECT_GT(outcome->timings.snapshot_seconds, 0.0);
  EXPECT_GT(outcome->timings.write_seconds, 0.0);
  EXPECT_FALSE(saver.TakeCompleted().has_value());

  // What was saved is the state at Start, not the updated one.
  absl::StatusOr<LoadedCheckpoint> loaded = ResumeRank0(tmp.Job());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->manifest.loss, 2.5);
  EXPECT_TRUE(BitwiseEqual(loaded->optimizer_shard->master, original.optimizer_shard->master));
  EXPECT_TRUE(BitwiseEqual(loaded->optimizer_shard->exp_avg, original.optimizer_shard->exp_avg));
  for (const auto& [name, tensor] : loaded->model_weights) {
    if (name == original.model_weights[0].first) {
      EXPECT_TRUE(BitwiseEqual(tensor, original.model_weights[0].second));
    }
  }
}

TEST(AsyncSaverTest, AWriteErrorComesBackAsStatusAndThePreviousCheckpointStays) {
  ScopedTestRoot tmp;
  bool fail = false;
  AsyncSaverOptions options;
  options.root = tmp.Job();
  options.write_hook = [&fail](const std::string& name, uint64_t) {
    return fail ? absl::ResourceExhaustedError("injected ENOSPC writing " + name) : absl::OkStatus();
  };
  AsyncCheckpointSaver saver(options);
  ASSERT_TRUE(saver.Start(MakeRankState(0, 1, 1000, 10, 1)).ok());
  ASSERT_TRUE(saver.Wait().ok());

  fail = true;  // the writer of step 10 has been joined: no race
  ASSERT_TRUE(saver.Start(MakeRankState(0, 1, 1000, 20, 1)).ok());
  const absl::Status failed = saver.Wait();
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(failed.message(), HasSubstr("step 20"));
  EXPECT_THAT(failed.message(), HasSubstr("injected ENOSPC"));
  std::optional<SaveOutcome> first = saver.TakeCompleted();
  std::optional<SaveOutcome> second = saver.TakeCompleted();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_TRUE(first->status.ok());
  EXPECT_EQ(second->status, failed);
  EXPECT_FALSE(second->timings.committed);

  absl::StatusOr<LoadedCheckpoint> loaded = ResumeRank0(tmp.Job());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);

  fail = false;  // the next save goes through
  ASSERT_TRUE(saver.Start(MakeRankState(0, 1, 1000, 30, 1)).ok());
  EXPECT_TRUE(saver.Wait().ok());
}

TEST(AsyncSaverTest, AnExceptionOnTheWriterThreadBecomesAStatus) {
  ScopedTestRoot tmp;
  AsyncSaverOptions options;
  options.root = tmp.Job();
  options.write_hook = [](const std::string&, uint64_t) -> absl::Status { throw std::runtime_error("boom"); };
  AsyncCheckpointSaver saver(options);
  ASSERT_TRUE(saver.Start(MakeRankState(0, 1, 100, 10, 1)).ok());
  const absl::Status status = saver.Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("boom"));
}

TEST(AsyncSaverTest, ASecondStartWaitsForTheFirstAndBothAreReported) {
  ScopedTestRoot tmp;
  WriterGate gate;
  AsyncSaverOptions options;
  options.root = tmp.Job();
  options.write_hook = gate.Hook();
  AsyncCheckpointSaver saver(options);
  ASSERT_TRUE(saver.Start(MakeRankState(0, 1, 100, 10, 1)).ok());
  ASSERT_TRUE(gate.WaitUntilEntered());
  std::thread releaser([&] { gate.Release(); });
  // Blocks until step 10 is written (released by the other thread).
  ASSERT_TRUE(saver.Start(MakeRankState(0, 1, 100, 20, 1)).ok());
  releaser.join();
  ASSERT_TRUE(saver.Wait().ok());
  std::optional<SaveOutcome> first = saver.TakeCompleted();
  std::optional<SaveOutcome> second = saver.TakeCompleted();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->timings.step, 10);
  EXPECT_EQ(second->timings.step, 20);
  EXPECT_GE(second->timings.wait_previous_seconds, 0.0);
}

TEST(AsyncSaverTest, RanksCommitThroughStorageAndRetentionKeepsK) {
  ScopedTestRoot tmp;
  AsyncSaverOptions options;
  options.root = tmp.Job();
  options.keep_last = 2;
  options.log = [](const std::string&) {};
  AsyncCheckpointSaver rank0(options);
  AsyncCheckpointSaver rank1(options);
  for (int64_t step : {10, 20, 30}) {
    ASSERT_TRUE(rank0.Start(MakeRankState(0, 2, 777, step, 1)).ok());
    ASSERT_TRUE(rank1.Start(MakeRankState(1, 2, 777, step, 1)).ok());
    ASSERT_TRUE(rank1.Wait().ok());
    ASSERT_TRUE(rank0.Wait().ok());  // the committing rank waited for rank 1's record
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.Job().StepDirectory(10)));
  EXPECT_TRUE(std::filesystem::exists(tmp.Job().StepDirectory(20)));
  absl::StatusOr<LoadedCheckpoint> loaded = ResumeRank0(tmp.Job());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 30);
}

TEST(AsyncSaverTest, AnUndefinedTensorFailsStartAndStartsNothing) {
  ScopedTestRoot tmp;
  AsyncSaverOptions options;
  options.root = tmp.Job();
  AsyncCheckpointSaver saver(options);
  RankCheckpointState state = MakeRankState(0, 1, 100, 10, 1);
  state.optimizer_shard->exp_avg = torch::Tensor();
  EXPECT_EQ(saver.Start(state).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(saver.InFlight());
  EXPECT_TRUE(saver.Wait().ok());
}

}  // namespace
}  // namespace tunefleet
