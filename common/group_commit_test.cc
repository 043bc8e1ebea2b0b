#include "common/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

TEST(GroupCommitTest, EveryCallerGetsItsOwnResultFromExactlyOneBatchAndBatchesNeverOverlap) {
  GroupCommit<int, std::string> commits;
  constexpr int kThreads = 16, kEach = 50;
  std::atomic<int> in_commit{0}, overlaps{0}, batches{0}, committed{0};
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        results[t].push_back(commits.Submit(t * 1000 + i, [&](const std::vector<int*>& batch) {
          if (in_commit.fetch_add(1) != 0) overlaps.fetch_add(1);
          batches.fetch_add(1);
          committed.fetch_add(static_cast<int>(batch.size()));
          std::vector<std::string> out;
          for (const int* item : batch) out.push_back(absl::StrCat("saved ", *item));
          in_commit.fetch_sub(1);
          return out;
        }));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(committed.load(), kThreads * kEach);  // each item in exactly one batch
  EXPECT_LE(batches.load(), kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), static_cast<size_t>(kEach));
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(results[t][i], absl::StrCat("saved ", t * 1000 + i));
  }
}

TEST(GroupCommitTest, AFailedBatchFailsItsCallersAndTheNextBatchStartsClean) {
  GroupCommit<int, absl::Status> commits;
  const absl::Status failed = commits.Submit(1, [](const std::vector<int*>& batch) {
    return std::vector<absl::Status>(batch.size(), absl::UnavailableError("disk full"));
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failed.message(), "disk full");
  const absl::Status ok = commits.Submit(2, [](const std::vector<int*>& batch) {
    EXPECT_EQ(batch.size(), 1u);
    EXPECT_EQ(*batch[0], 2);
    return std::vector<absl::Status>(batch.size(), absl::OkStatus());
  });
  EXPECT_TRUE(ok.ok()) << ok;
}

}  // namespace
}  // namespace tunefleet
