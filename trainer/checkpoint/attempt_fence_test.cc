// The attempt fence on a fake checkpoint root: it only moves forward, a
// commit checks it and renames under its lock, and resume ignores a stale
// attempt's commit made after the fence.

#include "trainer/checkpoint/attempt_fence.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/checkpoint_core_test_util.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/commit.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing::ScopedTestRoot;

using namespace std::chrono_literals;

// Rank 0 of a one-rank save writes its file and record for `step`.
void WriteRankFiles(const CheckpointRoot& root, int64_t step, const std::string& save_id) {
  const std::string dir = root.StepDirectory(step);
  std::filesystem::create_directories(dir);
  absl::StatusOr<FileRecord> file = WriteFileWithChecksum(dir, "rank-0.bin", "payload");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(PublishRankFiles(dir, RankFilesRecord{0, 1, step, save_id, {*file}, std::nullopt}).ok());
}

// A commit as the trainer's loop makes it: fenced by (generation, attempt).
absl::StatusOr<Manifest> FencedCommit(const CheckpointRoot& root, int64_t step, int64_t generation, int64_t attempt) {
  CommitRequest request;
  request.step = step;
  request.save_id = absl::StrCat("g", generation, "-a", attempt, "-step-", step, "-1");
  request.commit_guard = [dir = root.JobDirectory(), generation, attempt](const std::function<absl::Status()>& rename) {
    return CommitUnderAttemptFence(dir, generation, attempt, rename);
  };
  return CommitManifest(root, request);
}

TEST(AttemptFenceTest, MovesOnlyForwardAndKeepsTheFirstWriteTime) {
  ScopedTestRoot tmp;
  const std::string dir = tmp.Job().JobDirectory();  // not made yet: the fence makes it
  auto none = ReadAttemptFence(dir);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  auto first = AdvanceAttemptFence(tmp.Job(), 2, 3);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = AdvanceAttemptFence(tmp.Job(), 2, 3);  // another rank of the same attempt
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->written_unix_ms, first->written_unix_ms);

  auto older = AdvanceAttemptFence(tmp.Job(), 2, 2);
  EXPECT_TRUE(IsAttemptFenced(older.status())) << older.status();
  EXPECT_THAT(older.status().message(), HasSubstr("generation 2 attempt 3"));
  auto older_generation = AdvanceAttemptFence(tmp.Job(), 1, 9);
  EXPECT_TRUE(IsAttemptFenced(older_generation.status())) << older_generation.status();

  ASSERT_TRUE(AdvanceAttemptFence(tmp.Job(), 3, 4).ok());
  auto read = ReadAttemptFence(dir);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->generation, 3);
  EXPECT_EQ((*read)->attempt, 4);
  // Written with the temp-file writer: no temporary is left beside it.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".tmp")));
  }
}

TEST(AttemptFenceTest, AStaleAttemptCannotCommitOnceANewerOneHasStarted) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  ASSERT_TRUE(AdvanceAttemptFence(root, 1, 1).ok());
  WriteRankFiles(root, 10, "g1-a1-step-10-1");
  ASSERT_TRUE(FencedCommit(root, 10, 1, 1).ok());  // the current attempt commits

  WriteRankFiles(root, 20, "g1-a1-step-20-1");  // its next save, written ...
  ASSERT_TRUE(AdvanceAttemptFence(root, 2, 2).ok());  // ... as the new attempt starts
  auto stale = FencedCommit(root, 20, 1, 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(IsAttemptFenced(stale.status())) << stale.status();
  EXPECT_THAT(stale.status().message(), HasSubstr("generation 2 attempt 2"));
  EXPECT_FALSE(std::filesystem::exists(root.StepDirectory(20) + "/" + kManifestFileName));

  WriteRankFiles(root, 20, "g2-a2-step-20-1");  // the new attempt commits the same step
  EXPECT_TRUE(FencedCommit(root, 20, 2, 2).ok());
}

TEST(AttemptFenceTest, TheLockIsHeldFromTheCheckThroughTheRename) {
  ScopedTestRoot tmp;
  const std::string dir = tmp.Job().JobDirectory();
  ASSERT_TRUE(AdvanceAttemptFence(tmp.Job(), 1, 1).ok());
  std::future<absl::StatusOr<AttemptFence>> newer;
  bool advanced_during_rename = true;
  const absl::Status committed = CommitUnderAttemptFence(dir, 1, 1, [&] {
    // A newer attempt starting now must wait for this rename to finish.
    newer = std::async(std::launch::async, [&] { return AdvanceAttemptFence(tmp.Job(), 2, 2); });
    advanced_during_rename = newer.wait_for(300ms) == std::future_status::ready;
    return absl::OkStatus();
  });
  EXPECT_TRUE(committed.ok()) << committed;
  EXPECT_FALSE(advanced_during_rename);
  ASSERT_TRUE(newer.valid());
  EXPECT_TRUE(newer.get().ok());  // and then proceeds
  bool ran = false;
  const absl::Status refused = CommitUnderAttemptFence(dir, 1, 1, [&] {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_TRUE(IsAttemptFenced(refused)) << refused;
  EXPECT_FALSE(ran);
}

// A fence written before the accepted list existed: the stale commit is
// told by its time (the one rule that compares clocks, kept for such fences).
TEST(AttemptFenceTest, AFenceWithoutAnAcceptedListJudgesByCommitTime) {
  AttemptFence fence{2, 2, 1000, std::nullopt};
  Manifest manifest;
  manifest.save_id = "g1-a1-step-20-5";
  manifest.created_unix_ms = 1001;  // after the fence: slipped past an unhonoured lock
  EXPECT_TRUE(FencedOut(fence, manifest));
  manifest.created_unix_ms = 999;  // before it: the newer attempt may resume from it
  EXPECT_FALSE(FencedOut(fence, manifest));
  manifest.save_id = "g2-a2-step-20-5";  // the fence's own attempt
  manifest.created_unix_ms = 2000;
  EXPECT_FALSE(FencedOut(fence, manifest));
  manifest.save_id = "fake-20";  // ids of another shape are not judged
  EXPECT_FALSE(FencedOut(fence, manifest));
}

// Storage that does not honour flock: a stale attempt's commit lands after
// the newer attempt started. It is refused by the list, not by clocks (its
// host's clock may run behind), and by every attempt after too.
TEST(AttemptFenceTest, AStaleCommitThatSlipsPastTheLockIsNeverResumedWhateverItsClockSays) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  auto manifest_of = [&](int64_t step) { return ReadManifest(root.StepDirectory(step)); };
  ASSERT_TRUE(AdvanceAttemptFence(root, 1, 1).ok());
  WriteRankFiles(root, 10, "g1-a1-step-10-1");
  ASSERT_TRUE(FencedCommit(root, 10, 1, 1).ok());

  auto second = AdvanceAttemptFence(root, 2, 2);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second->accepted.has_value());
  EXPECT_THAT(*second->accepted, ::testing::ElementsAre("g1-a1-step-10-1"));
  // Attempt 1 commits step 20 with no lock (what unhonoured flock amounts
  // to), its clock an hour behind the fence's.
  WriteRankFiles(root, 20, "g1-a1-step-20-1");
  CommitRequest unfenced;
  unfenced.step = 20;
  unfenced.save_id = "g1-a1-step-20-1";
  ASSERT_TRUE(CommitManifest(root, unfenced).ok());
  auto stale = manifest_of(20);
  ASSERT_TRUE(stale.ok()) << stale.status();
  stale->created_unix_ms = second->written_unix_ms - 3600 * 1000;
  EXPECT_TRUE(FencedOut(*second, *stale));
  auto good = manifest_of(10);
  ASSERT_TRUE(good.ok());
  EXPECT_FALSE(FencedOut(*second, *good));

  // Attempt 2 commits step 30; attempt 3 accepts it and step 10, never step 20.
  WriteRankFiles(root, 30, "g2-a2-step-30-1");
  ASSERT_TRUE(FencedCommit(root, 30, 2, 2).ok());
  auto third = AdvanceAttemptFence(root, 3, 3);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(*third->accepted, ::testing::UnorderedElementsAre("g1-a1-step-10-1", "g2-a2-step-30-1"));
  EXPECT_TRUE(FencedOut(*third, *stale));
  // Every rank of attempt 3 reads the same list back.
  auto again = AdvanceAttemptFence(root, 3, 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accepted, third->accepted);
  auto read = ReadAttemptFence(root.JobDirectory());
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->accepted, third->accepted);
}

// The first fence on a job folder (one from before fences, or a copy)
// accepts every checkpoint already committed.
TEST(AttemptFenceTest, TheFirstFenceAcceptsWhatIsAlreadyCommitted) {
  ScopedTestRoot tmp;
  const CheckpointRoot root = tmp.Job();
  WriteRankFiles(root, 10, "g1-a1-step-10-1");
  CommitRequest request;
  request.step = 10;
  request.save_id = "g1-a1-step-10-1";
  ASSERT_TRUE(CommitManifest(root, request).ok());
  auto fence = AdvanceAttemptFence(root, 2, 1);
  ASSERT_TRUE(fence.ok()) << fence.status();
  EXPECT_THAT(*fence->accepted, ::testing::ElementsAre("g1-a1-step-10-1"));
}

TEST(AttemptFenceTest, ADamagedFenceIsAnErrorNotAnEmptyOne) {
  ScopedTestRoot tmp;
  const std::string dir = tmp.Job().JobDirectory();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + kAttemptFenceFileName) << "{\"generation\": \"x\"}";
  auto read = ReadAttemptFence(dir);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  EXPECT_FALSE(AdvanceAttemptFence(tmp.Job(), 1, 1).ok());
  EXPECT_FALSE(CommitUnderAttemptFence(dir, 1, 1, [] { return absl::OkStatus(); }).ok());
}

// The accepted list is read from shared storage too: a wrong shape or a file
// past the fence's bound is named, never taken as "accepts nothing".
TEST(AttemptFenceTest, AMalformedAcceptedListOrAnOversizedFenceIsDataLoss) {
  ScopedTestRoot tmp;
  const std::string dir = tmp.Job().JobDirectory();
  std::filesystem::create_directories(dir);
  const std::string head = R"({"generation": 1, "attempt": 1, "written_unix_ms": 5, "accepted": )";
  for (const std::string& accepted : {std::string(R"("g1-a1-step-10-1")"), std::string("[1]"),
                                      std::string(R"(["ok", null])"), std::string("{}")}) {
    std::ofstream(dir + "/" + kAttemptFenceFileName, std::ios::trunc) << head << accepted << "}";
    auto read = ReadAttemptFence(dir);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << accepted << ": " << read.status();
    EXPECT_THAT(read.status().message(), HasSubstr("accepted")) << accepted;
  }
  std::ofstream(dir + "/" + kAttemptFenceFileName, std::ios::trunc)
      << head << "[\"" << std::string(2 << 20, 'x') << "\"]}";
  auto oversized = ReadAttemptFence(dir);
  EXPECT_EQ(oversized.status().code(), absl::StatusCode::kDataLoss) << oversized.status();
  EXPECT_THAT(oversized.status().message(), HasSubstr("larger than a fence"));
}

TEST(AttemptFenceTest, TheTextFormWritesBackToTheSameFenceAndKeepsALegacyFenceLegacy) {
  const AttemptFence fence{7, 2, 1764900000000, std::vector<std::string>{"g6-a1-1", "g6-a1-2"}};
  auto again = AttemptFenceFromJson(AttemptFenceToJson(fence), "fence.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->generation, 7);
  EXPECT_EQ(again->attempt, 2);
  EXPECT_EQ(again->written_unix_ms, 1764900000000);
  EXPECT_EQ(again->accepted, fence.accepted);
  // Written before the list existed: no list, so the clock rule applies.
  auto legacy = AttemptFenceFromJson(R"({"generation":3,"attempt":1,"written_unix_ms":5})", "old.json");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_FALSE(legacy->accepted.has_value());
  EXPECT_EQ(AttemptFenceToJson(*legacy).find("accepted"), std::string::npos);
  const auto too_big = AttemptFenceFromJson(std::string(kMaxAttemptFenceBytes + 1, ' '), "big.json");
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(too_big.status().message().find("big.json"), std::string::npos);
}

TEST(AttemptFenceTest, ParsesSaveIds) {
  int64_t generation = 0, attempt = 0;
  EXPECT_TRUE(ParseSaveId("g3-a7-step-10-123", &generation, &attempt));
  EXPECT_EQ(generation, 3);
  EXPECT_EQ(attempt, 7);
  EXPECT_FALSE(ParseSaveId("fake-10", &generation, &attempt));
  EXPECT_FALSE(ParseSaveId("g-a-step", &generation, &attempt));
}

}  // namespace
}  // namespace tunefleet
