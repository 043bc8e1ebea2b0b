// Checkpoints encrypted at rest: what round-trips, and how a wrong key, a
// tampered file (its checksum forged too, as an adversary would) or a file
// from another save reads on resume: named, and the loader falls back as
// for any other damage.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/encrypted_reader.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checkpoint_test_state.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/crc32c.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/loader.h"
#include "trainer/checkpoint/rank_writer.h"
#include "trainer/safetensors/atomic_file.h"

namespace tunefleet {
namespace {

using testing::BitwiseEqual;
using ::testing::HasSubstr;
using testing::MakeRankState;
using testing::ScopedTestRoot;

constexpr int64_t kNumel = 1001;

crypto::KeyRing Ring(char fill) {
  std::vector<crypto::EncryptionKey> keys;
  keys.push_back(*crypto::EncryptionKey::FromBytes(std::string(crypto::kKeyBytes, fill)));
  return *crypto::KeyRing::Create(std::move(keys));
}

void SaveAllRanks(const CheckpointRoot& root, int world_size, int64_t step, const crypto::KeyRing* keys) {
  testing::ThreadBarrier barrier(world_size);
  std::vector<absl::Status> results(static_cast<size_t>(world_size));
  std::vector<std::thread> ranks;
  for (int r = 0; r < world_size; ++r) {
    ranks.emplace_back([&, r] {
      RankCheckpointState state = MakeRankState(r, world_size, kNumel, step, 3);
      state.save_id = absl::StrCat("save-", step);
      const auto barrier_fn = [&] {
        barrier.Arrive();
        return absl::OkStatus();
      };
      results[static_cast<size_t>(r)] = SaveCheckpoint(root, state, barrier_fn, 0.5, 0, keys).status();
    });
  }
  for (std::thread& t : ranks) t.join();
  for (const absl::Status& s : results) ASSERT_TRUE(s.ok()) << s;
}

absl::StatusOr<LoadedCheckpoint> Resume(const CheckpointRoot& root, int rank, int world_size,
                                        const crypto::KeyRing* keys) {
  ResumeRequest request;
  request.rank = rank;
  request.world_size = world_size;
  request.encryption = keys;
  request.log = [](const std::string&) {};
  return LoadNewestValid(root, request);
}

// What an adversary with write access does after changing a file: make the
// manifest's CRC32C agree, so only the authentication can tell.
void ForgeManifestChecksum(const std::string& step_dir, const std::string& name) {
  absl::StatusOr<Manifest> manifest = ReadManifest(step_dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::string bytes = *ReadWholeFile(step_dir + "/" + name);
  for (FileRecord& file : manifest->files) {
    if (file.name != name) continue;
    file.size_bytes = bytes.size();
    file.crc32c = Crc32c(bytes.data(), bytes.size());
  }
  ASSERT_TRUE(WriteFileAtomically(step_dir + "/" + kManifestFileName, ManifestToJson(*manifest)).ok());
}

TEST(EncryptedCheckpointTest, RoundTripIsBitwiseAndNoDataFileIsPlaintext) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const crypto::KeyRing keys = Ring('a');
  SaveAllRanks(root, 2, 40, &keys);
  const std::string dir = root.StepDirectory(40);
  absl::StatusOr<Manifest> manifest = ReadManifest(dir);  // the manifest stays readable without the key
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  for (const FileRecord& file : manifest->files) {
    EXPECT_TRUE(*crypto::IsEncryptedFile(dir + "/" + file.name)) << file.name;
  }
  // Checksums are of the bytes on disk: verification needs no key.
  EXPECT_TRUE(VerifyCheckpointFiles(CommittedCheckpoint{40, dir, *manifest}).ok());
  for (int r = 0; r < 2; ++r) {
    const RankCheckpointState saved = MakeRankState(r, 2, kNumel, 40, 3);
    absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, r, 2, &keys);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->step, 40);
    EXPECT_TRUE(loaded->skipped.empty());
    EXPECT_TRUE(BitwiseEqual(loaded->optimizer_shard->master, saved.optimizer_shard->master));
    EXPECT_TRUE(BitwiseEqual(loaded->optimizer_shard->exp_avg_sq, saved.optimizer_shard->exp_avg_sq));
    EXPECT_EQ(loaded->trainer_state.rng_states, saved.trainer_state.rng_states);
    const RankCheckpointState rank0 = MakeRankState(0, 2, kNumel, 40, 3);
    ASSERT_EQ(loaded->model_weights.size(), rank0.model_weights.size());
    for (size_t i = 0; i < rank0.model_weights.size(); ++i) {
      bool matched = false;
      for (const auto& [name, tensor] : loaded->model_weights) {
        if (name == rank0.model_weights[i].first)
          matched = BitwiseEqual(tensor, rank0.model_weights[i].second);
      }
      EXPECT_TRUE(matched) << rank0.model_weights[i].first;
    }
  }
}

TEST(EncryptedCheckpointTest, AWrongKeyIsNamedAndTheLoaderFallsBackToOneItCanRead) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const crypto::KeyRing old_key = Ring('a');
  const crypto::KeyRing other_key = Ring('b');
  SaveAllRanks(root, 1, 10, &old_key);
  SaveAllRanks(root, 1, 20, &other_key);
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1, &old_key);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  ASSERT_EQ(loaded->skipped.size(), 1u);
  EXPECT_THAT(loaded->skipped[0], HasSubstr(root.StepDirectory(20) + "/trainer-state-rank-00000.json"));
  EXPECT_THAT(loaded->skipped[0], HasSubstr("wrong key"));
  EXPECT_THAT(loaded->skipped[0], HasSubstr("falling back"));

  // A key that opens none: DATA_LOSS listing each, never a fresh start.
  const crypto::KeyRing stranger = Ring('c');
  const absl::StatusOr<LoadedCheckpoint> none = Resume(root, 0, 1, &stranger);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(none.status().message(), HasSubstr("wrong key"));
}

TEST(EncryptedCheckpointTest, ATamperedShardWithAForgedChecksumIsNamedAndTheLoaderFallsBack) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const crypto::KeyRing keys = Ring('a');
  SaveAllRanks(root, 2, 10, &keys);
  SaveAllRanks(root, 2, 20, &keys);
  const std::string dir = root.StepDirectory(20);
  const std::string shard = dir + "/" + OptimizerShardFileName(1, 2);
  testing::FlipByte(shard, std::filesystem::file_size(shard) / 2);
  ForgeManifestChecksum(dir, OptimizerShardFileName(1, 2));
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 1, 2, &keys);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  ASSERT_EQ(loaded->skipped.size(), 1u);
  EXPECT_THAT(loaded->skipped[0], HasSubstr(shard));
  EXPECT_THAT(loaded->skipped[0], HasSubstr("does not authenticate"));
}

TEST(EncryptedCheckpointTest, AFlippedByteWithoutAForgedChecksumIsStillACrcMismatch) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const crypto::KeyRing keys = Ring('a');
  SaveAllRanks(root, 1, 10, &keys);
  SaveAllRanks(root, 1, 20, &keys);
  const std::string weights = root.StepDirectory(20) + "/" + kModelWeightsFileName;
  testing::FlipByte(weights, 100);
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1, &keys);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  EXPECT_THAT(loaded->skipped[0], HasSubstr("CRC32C"));  // storage damage is told as before
}

TEST(EncryptedCheckpointTest, AFileFromAnotherSaveIsRefused) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const crypto::KeyRing keys = Ring('a');
  SaveAllRanks(root, 1, 10, &keys);
  SaveAllRanks(root, 1, 20, &keys);
  const std::string name = TrainerStateFileName(0);
  std::filesystem::copy_file(root.StepDirectory(10) + "/" + name, root.StepDirectory(20) + "/" + name,
                             std::filesystem::copy_options::overwrite_existing);
  ForgeManifestChecksum(root.StepDirectory(20), name);
  absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1, &keys);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  EXPECT_THAT(loaded->skipped[0], HasSubstr("moved or substituted"));
}

TEST(EncryptedCheckpointTest, WithoutAKeyAnEncryptedCheckpointIsAClearError) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  const crypto::KeyRing keys = Ring('a');
  SaveAllRanks(root, 1, 10, &keys);
  const absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1, nullptr);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("no encryption key is configured"));
  EXPECT_THAT(loaded.status().message(), HasSubstr(crypto::KeyIdHex(keys.current().id())));
}

TEST(EncryptedCheckpointTest, WithAKeyAPlaintextCheckpointIsRefused) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  SaveAllRanks(root, 1, 10, nullptr);
  const crypto::KeyRing keys = Ring('a');
  const absl::StatusOr<LoadedCheckpoint> loaded = Resume(root, 0, 1, &keys);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("not encrypted"));
}

}  // namespace
}  // namespace tunefleet
