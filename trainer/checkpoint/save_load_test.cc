// Writing, committing and loading real tensor checkpoints: bitwise round
// trips, re-slicing through files, corruption fallback, failed saves.

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checkpoint_test_state.h"
#include "trainer/checkpoint/commit.h"
#include "trainer/checkpoint/flat_reslice.h"
#include "trainer/checkpoint/loader.h"
#include "trainer/checkpoint/rank_writer.h"
#include "trainer/checkpoint/rng_state.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::BitwiseEqual;
using testing::ExpectedSlice;
using testing::MakeRankState;
using testing::ScopedTestRoot;

constexpr int64_t kNumel = 1001;  // divisible by neither 2 nor 3: padding differs

// Every rank of `world_size` saves `step` on its own thread, with a real
// barrier between writing and committing, as the training loop will.
void SaveAllRanks(const CheckpointRoot& root, int world_size, int64_t step, int seed = 1,
                  int64_t numel = kNumel) {
  testing::ThreadBarrier barrier(world_size);
  std::vector<absl::Status> results(static_cast<size_t>(world_size));
  std::vector<std::thread> ranks;
  for (int r = 0; r < world_size; ++r) {
    ranks.emplace_back([&, r] {
      const RankCheckpointState state = MakeRankState(r, world_size, numel, step, seed);
      results[static_cast<size_t>(r)] =
          SaveCheckpoint(root, state, [&] {
            barrier.Arrive();
            return absl::OkStatus();
          }, 0.5).status();
    });
  }
  for (std::thread& t : ranks) t.join();
  for (int r = 0; r < world_size; ++r) ASSERT_TRUE(results[static_cast<size_t>(r)].ok()) << results[static_cast<size_t>(r)];
}

absl::StatusOr<LoadedCheckpoint> Resume(const CheckpointRoot& root, int rank, int world_size,
                                        std::vector<std::string>* log = nullptr) {
  ResumeRequest request;
  request.rank = rank;
  request.world_size = world_size;
  request.log = [log](const std::string& m) {
    if (log != nullptr) log->push_back(m);
  };
  return LoadNewestValid(root, request);
}

TEST(SaveLoadTest, RoundTripIsBitwise) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 2, 40, 5);
  for (int r = 0; r < 2; ++r) {
    const RankCheckpointState saved = MakeRankState(r, 2, kNumel, 40, 5);
    absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, r, 2);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->step, 40);
    EXPECT_FALSE(loaded->resliced);
    EXPECT_TRUE(loaded->skipped.empty());
    EXPECT_EQ(loaded->manifest.loss, 0.5);
    EXPECT_EQ(loaded->manifest.world_size, 2);
    // The weights (from rank 0's file) come back to every rank, in name order.
    const RankCheckpointState rank0 = MakeRankState(0, 2, kNumel, 40, 5);
    ASSERT_EQ(loaded->model_weights.size(), rank0.model_weights.size());
    for (const auto& [name, tensor] : rank0.model_weights) {
      bool found = false;
      for (const auto& [loaded_name, loaded_tensor] : loaded->model_weights) {
        if (loaded_name != name) continue;
        found = true;
        EXPECT_TRUE(BitwiseEqual(loaded_tensor, tensor)) << name;
      }
      EXPECT_TRUE(found) << name;
    }
    ASSERT_TRUE(loaded->optimizer_shard.has_value());
    const OptimizerShardState& want = *saved.optimizer_shard;
    const OptimizerShardState& got = *loaded->optimizer_shard;
    EXPECT_EQ(got.begin, want.begin);
    EXPECT_EQ(got.end, want.end);
    EXPECT_EQ(got.padded_numel, want.padded_numel);
    EXPECT_EQ(got.numel, want.numel);
    EXPECT_EQ(got.adamw_step, 40);
    EXPECT_TRUE(BitwiseEqual(got.master, want.master));
    EXPECT_TRUE(BitwiseEqual(got.exp_avg, want.exp_avg));
    EXPECT_TRUE(BitwiseEqual(got.exp_avg_sq, want.exp_avg_sq));
    const TrainerState& state = loaded->trainer_state;
    EXPECT_EQ(loaded->trainer_state_from_rank, r);
    EXPECT_EQ(state.step, 40);
    EXPECT_EQ(state.epoch, saved.trainer_state.epoch);
    EXPECT_EQ(state.step_in_epoch, saved.trainer_state.step_in_epoch);
    EXPECT_EQ(state.lr_schedule_step, 40);
    EXPECT_EQ(state.world_size, 2);
    EXPECT_EQ(state.zero_stage, 2);
    EXPECT_EQ(state.flat_numel, kNumel);
    EXPECT_EQ(state.rng_states, saved.trainer_state.rng_states);
    EXPECT_EQ(state.extra, saved.trainer_state.extra);
  }
}

// Through files: shards saved at `from` ranks, loaded by each of `to`.
void ExpectResumeAtOtherWorldSize(int from, int to) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, from, 10, 2);
  const testing::FullFlatState full = testing::MakeFullFlatState(kNumel, 2);
  const int64_t padded = PaddedFlatNumel(kNumel, to);
  for (int r = 0; r < to; ++r) {
    absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, r, to);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_TRUE(loaded->optimizer_shard.has_value());
    const OptimizerShardState& got = *loaded->optimizer_shard;
    const FlatRange range = ShardRangeForRank(padded, to, r);
    EXPECT_EQ(got.begin, range.begin);
    EXPECT_EQ(got.end, range.end);
    EXPECT_EQ(got.padded_numel, padded);
    EXPECT_TRUE(loaded->resliced);
    EXPECT_TRUE(BitwiseEqual(got.master, ExpectedSlice(full.master, range.begin, range.end))) << r;
    EXPECT_TRUE(BitwiseEqual(got.exp_avg, ExpectedSlice(full.exp_avg, range.begin, range.end))) << r;
    EXPECT_TRUE(BitwiseEqual(got.exp_avg_sq, ExpectedSlice(full.exp_avg_sq, range.begin, range.end))) << r;
    EXPECT_EQ(loaded->trainer_state_from_rank, r < from ? r : 0);
  }
}

TEST(SaveLoadTest, ResumesTwoRanksAsThree) { ExpectResumeAtOtherWorldSize(2, 3); }
TEST(SaveLoadTest, ResumesThreeRanksAsOne) { ExpectResumeAtOtherWorldSize(3, 1); }
TEST(SaveLoadTest, ResumesOneRankAsTwo) { ExpectResumeAtOtherWorldSize(1, 2); }

TEST(SaveLoadTest, AnUncommittedNewerFolderIsIgnored) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 2, 10);
  // Both ranks write step 20, but nobody commits it.
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(WriteRankFiles(root, MakeRankState(r, 2, kNumel, 20, 1)).ok());
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 2);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  EXPECT_TRUE(loaded->skipped.empty());
}

TEST(SaveLoadTest, NothingCommittedIsNotFound) {
  ScopedTestRoot tmp;
  EXPECT_EQ(Resume(tmp.Job(), 0, 1).status().code(), absl::StatusCode::kNotFound);
}

TEST(SaveLoadTest, ATruncatedShardIsNamedAndTheOlderCheckpointLoads) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 2, 10);
  SaveAllRanks(root, 2, 20);
  const std::string shard = root.StepDirectory(20) + "/" + OptimizerShardFileName(1, 2);
  testing::TruncateFile(shard, std::filesystem::file_size(shard) - 100);
  std::vector<std::string> log;
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 1, 2, &log);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  ASSERT_EQ(loaded->skipped.size(), 1u);
  EXPECT_THAT(loaded->skipped[0], HasSubstr(shard));
  EXPECT_THAT(loaded->skipped[0], HasSubstr("falling back"));
  ASSERT_EQ(log.size(), 2u);  // the failure, then which checkpoint it resumes from
  EXPECT_THAT(log[1], HasSubstr("resuming from the older checkpoint step 10"));
}

TEST(SaveLoadTest, AFlippedByteInTheWeightsIsNamedAndTheOlderCheckpointLoads) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 1, 10);
  SaveAllRanks(root, 1, 20);
  const std::string weights = root.StepDirectory(20) + "/" + kModelWeightsFileName;
  testing::FlipByte(weights, std::filesystem::file_size(weights) - 3);  // in the tensor data
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  ASSERT_EQ(loaded->skipped.size(), 1u);
  EXPECT_THAT(loaded->skipped[0], HasSubstr(weights));
  EXPECT_THAT(loaded->skipped[0], HasSubstr("CRC32C"));
}

TEST(SaveLoadTest, WhenEveryCheckpointIsDamagedTheErrorListsThem) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 1, 10);
  testing::FlipByte(root.StepDirectory(10) + "/" + TrainerStateFileName(0), 5);
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr(TrainerStateFileName(0)));
}

TEST(SaveLoadTest, AnInjectedWriteErrorFailsCleanly) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 1, 10);
  const std::string shard_name = OptimizerShardFileName(0, 1);
  const WriteProgressHook fail_in_shard = [&](const std::string& name, uint64_t) {
    return name == shard_name ? absl::ResourceExhaustedError("injected: no space left on device") : absl::OkStatus();
  };
  absl::StatusOr<RankFilesRecord> written = WriteRankFiles(root, MakeRankState(0, 1, kNumel, 20, 1), fail_in_shard);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), absl::StatusCode::kResourceExhausted);
  // Nothing of the failed save is left: no .tmp, no weights, no folder.
  EXPECT_FALSE(std::filesystem::exists(root.StepDirectory(20)));
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
}

TEST(SaveLoadTest, ACommittedStepIsNotOverwritten) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 1, 10);
  absl::StatusOr<RankFilesRecord> again = WriteRankFiles(root, MakeRankState(0, 1, kNumel, 10, 9));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->trainer_state.extra.at("seed"), "1");
}

// A real full filesystem: a 1 MiB tmpfs. Needs CAP_SYS_ADMIN; skipped
// without it (AnInjectedWriteErrorFailsCleanly covers the same path).
class TmpfsRoot {
 public:
  explicit TmpfsRoot(const std::string& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=1m") == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsRoot() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  uint64_t FreeBytes() const {
    struct statvfs st {};
    ::statvfs(dir_.c_str(), &st);
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

TEST(SaveLoadTest, ASaveIntoAFullFilesystemFailsAndThePreviousCheckpointStillLoads) {
  ScopedTestRoot tmp;
  TmpfsRoot tmpfs(tmp.path() + "/volume");
  if (!tmpfs.mounted()) {
    GTEST_SKIP() << "cannot mount a 1 MiB tmpfs here (" << tmpfs.error()
                 << "); the injected-error test covers the failure path";
  }
  const CheckpointRoot root{tmp.path() + "/volume", "job"};
  SaveAllRanks(root, 1, 10, 1, 10'000);  // ~120 KB: fits
  const uint64_t free_before = tmpfs.FreeBytes();
  // ~1.2 MB of state cannot fit in what is left.
  absl::StatusOr<RankFilesRecord> written = WriteRankFiles(root, MakeRankState(0, 1, 100'000, 20, 1));
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), absl::StatusCode::kResourceExhausted) << written.status();
  EXPECT_THAT(written.status().message(), HasSubstr("step-00000020/"));
  EXPECT_THAT(written.status().message(), HasSubstr("No space left on device"));
  EXPECT_EQ(tmpfs.FreeBytes(), free_before) << "the failed save must give its space back";
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  // And the next save that fits succeeds.
  SaveAllRanks(root, 1, 30, 1, 10'000);
}

TEST(RngStateTest, TorchCpuGeneratorRoundTrips) {
  torch::manual_seed(123);
  absl::StatusOr<std::string> state = CaptureTorchCpuRngState();
  ASSERT_TRUE(state.ok()) << state.status();
  const torch::Tensor first = torch::rand({8});
  ASSERT_TRUE(RestoreTorchCpuRngState(*state).ok());
  EXPECT_TRUE(BitwiseEqual(torch::rand({8}), first));
  EXPECT_EQ(RestoreTorchCpuRngState("short").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tunefleet
