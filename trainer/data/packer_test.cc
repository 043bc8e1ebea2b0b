#include "trainer/data/packer.h"

#include <cstdint>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/data/shuffle.h"

namespace tunefleet {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// An example of `n` tokens with ids base, base+1, ...; loss on all but the
// first `prompt` tokens.
TokenizedExample Example(int32_t base, int n, int prompt = 0) {
  TokenizedExample ex;
  for (int i = 0; i < n; ++i) ex.Append(base + i, i >= prompt);
  return ex;
}

std::vector<int64_t> Row(const std::vector<int64_t>& v, const MicroBatch& b, int row) {
  return std::vector<int64_t>(v.begin() + row * b.seq_len, v.begin() + (row + 1) * b.seq_len);
}

TEST(PackerTest, PacksGreedilyWithPerExamplePositionsSegmentsAndLabels) {
  // Lengths 3, 4 fit one row of 8; 5 does not fit the last 1 slot; 2 joins it.
  auto packed = PackedDataset::Build({Example(10, 3), Example(20, 4, 2), Example(30, 5), Example(40, 2)},
                                     {/*sequence_length=*/8, /*packing=*/true});
  ASSERT_TRUE(packed.ok()) << packed.status();
  ASSERT_EQ(packed->num_sequences(), 2);
  const MicroBatch b = packed->Gather({0, 1});
  EXPECT_EQ(b.rows, 2);
  EXPECT_EQ(b.seq_len, 8);
  const int64_t X = kIgnoreLabel;
  EXPECT_THAT(Row(b.input_ids, b, 0), ElementsAre(10, 11, 12, 20, 21, 22, 23, 0));
  EXPECT_THAT(Row(b.position_ids, b, 0), ElementsAre(0, 1, 2, 0, 1, 2, 3, 0));
  EXPECT_THAT(Row(b.segment_ids, b, 0), ElementsAre(1, 1, 1, 2, 2, 2, 2, 0));
  // The label at each example's last position is ignored: no crossing into
  // the next example. Example 2's first two tokens are prompt (not targets).
  EXPECT_THAT(Row(b.labels, b, 0), ElementsAre(11, 12, X, X, 22, 23, X, X));
  EXPECT_THAT(Row(b.input_ids, b, 1), ElementsAre(30, 31, 32, 33, 34, 40, 41, 0));
  EXPECT_THAT(Row(b.position_ids, b, 1), ElementsAre(0, 1, 2, 3, 4, 0, 1, 0));
  EXPECT_THAT(Row(b.segment_ids, b, 1), ElementsAre(1, 1, 1, 1, 1, 2, 2, 0));
  EXPECT_THAT(Row(b.labels, b, 1), ElementsAre(31, 32, 33, 34, X, 41, X, X));
  EXPECT_EQ(b.loss_tokens, 2 + 2 + 4 + 1);
  EXPECT_EQ(packed->loss_tokens(0) + packed->loss_tokens(1), b.loss_tokens);
  const PackingStats& s = packed->stats();
  EXPECT_EQ(s.examples, 4);
  EXPECT_EQ(s.sequences, 2);
  EXPECT_EQ(s.tokens, 14);
  EXPECT_EQ(s.padding_tokens, 2);
  EXPECT_EQ(s.truncated_examples, 0);
}

TEST(PackerTest, TruncatesLongExamplesAndCountsThem) {
  auto packed = PackedDataset::Build({Example(100, 12), Example(10, 3), Example(200, 9)}, {8, true});
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(packed->stats().truncated_examples, 2);
  EXPECT_EQ(packed->stats().truncated_tokens, 4 + 1);
  ASSERT_EQ(packed->num_sequences(), 3);
  const MicroBatch b = packed->Gather({0, 1, 2});
  EXPECT_THAT(Row(b.input_ids, b, 0), ElementsAre(100, 101, 102, 103, 104, 105, 106, 107));
  // The last kept position predicts a token that was cut off: ignored.
  EXPECT_EQ(Row(b.labels, b, 0).back(), kIgnoreLabel);
}

TEST(PackerTest, WithoutPackingOneExamplePerPaddedRow) {
  auto packed = PackedDataset::Build({Example(10, 3), Example(20, 2)}, {6, false});
  ASSERT_TRUE(packed.ok());
  ASSERT_EQ(packed->num_sequences(), 2);
  const MicroBatch b = packed->Gather({1, 0});
  EXPECT_THAT(Row(b.input_ids, b, 0), ElementsAre(20, 21, 0, 0, 0, 0));
  EXPECT_THAT(Row(b.segment_ids, b, 0), ElementsAre(1, 1, 0, 0, 0, 0));
  EXPECT_THAT(Row(b.labels, b, 1), ElementsAre(11, 12, kIgnoreLabel, kIgnoreLabel, kIgnoreLabel, kIgnoreLabel));
  EXPECT_EQ(packed->stats().padding_tokens, 3 + 4);
}

TEST(PackerTest, DropsExamplesWithNothingToTrain) {
  // A lone EOS (empty text), an all-prompt example, and one whose only
  // target was truncated away.
  auto packed = PackedDataset::Build({Example(1, 1), Example(10, 3, 3), Example(20, 10, 6), Example(30, 2)}, {4, true});
  ASSERT_TRUE(packed.ok());
  EXPECT_EQ(packed->stats().dropped_examples, 3);
  EXPECT_EQ(packed->stats().examples, 1);
  EXPECT_EQ(packed->num_sequences(), 1);
}

TEST(PackerTest, FingerprintChangesWithAnyTokenMaskOrLayout) {
  const std::vector<TokenizedExample> base = {Example(10, 3), Example(20, 4, 2)};
  const uint64_t f = PackedDataset::Build(base, {8, true})->fingerprint();
  EXPECT_EQ(PackedDataset::Build(base, {8, true})->fingerprint(), f);
  EXPECT_NE(PackedDataset::Build(base, {8, false})->fingerprint(), f);
  EXPECT_NE(PackedDataset::Build(base, {9, true})->fingerprint(), f);
  EXPECT_NE(PackedDataset::Build({Example(10, 3), Example(20, 4, 1)}, {8, true})->fingerprint(), f);
  EXPECT_NE(PackedDataset::Build({Example(10, 3), Example(21, 4, 2)}, {8, true})->fingerprint(), f);
  EXPECT_NE(PackedDataset::Build({Example(20, 4, 2), Example(10, 3)}, {8, true})->fingerprint(), f);
}

TEST(PackerTest, RejectsTinySequenceLength) {
  EXPECT_FALSE(PackedDataset::Build({}, {1, true}).ok());
  auto empty = PackedDataset::Build({}, {8, true});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->num_sequences(), 0);
}

// On random examples: every counted label is the next input of the same
// example; positions count up inside a segment and restart across one.
TEST(PackerTest, NoLabelOrPositionEverCrossesABoundary) {
  SplitMix64 rng(7);
  std::vector<TokenizedExample> examples;
  for (int i = 0; i < 300; ++i) {
    TokenizedExample ex;
    const int n = 1 + static_cast<int>(rng.Below(40));
    for (int t = 0; t < n; ++t) ex.Append(static_cast<int32_t>(1 + rng.Below(1000)), rng.Below(3) != 0);
    examples.push_back(ex);
  }
  for (bool packing : {true, false}) {
    auto packed = PackedDataset::Build(examples, {32, packing});
    ASSERT_TRUE(packed.ok());
    std::vector<int64_t> all;
    for (int64_t s = 0; s < packed->num_sequences(); ++s) all.push_back(s);
    const MicroBatch b = packed->Gather(all);
    int64_t counted = 0;
    for (int r = 0; r < b.rows; ++r) {
      for (int t = 0; t < b.seq_len; ++t) {
        const size_t i = static_cast<size_t>(r * b.seq_len + t);
        if (b.segment_ids[i] == kPadSegmentId) {
          EXPECT_EQ(b.labels[i], kIgnoreLabel);
          EXPECT_EQ(b.input_ids[i], kPadTokenId);
          continue;
        }
        if (b.labels[i] != kIgnoreLabel) {
          ++counted;
          ASSERT_LT(t + 1, b.seq_len);
          EXPECT_EQ(b.labels[i], b.input_ids[i + 1]);
          EXPECT_EQ(b.segment_ids[i + 1], b.segment_ids[i]);
        }
        if (t + 1 < b.seq_len && b.segment_ids[i + 1] == b.segment_ids[i]) {
          EXPECT_EQ(b.position_ids[i + 1], b.position_ids[i] + 1);
        } else {
          EXPECT_EQ(b.labels[i], kIgnoreLabel) << "row " << r << " position " << t;
          if (t + 1 < b.seq_len && b.segment_ids[i + 1] != kPadSegmentId) {
            EXPECT_EQ(b.position_ids[i + 1], 0);
            EXPECT_GT(b.segment_ids[i + 1], b.segment_ids[i]);
          }
        }
      }
    }
    EXPECT_EQ(counted, b.loss_tokens);
    EXPECT_EQ(counted, packed->stats().loss_tokens);
    EXPECT_EQ(packed->stats().tokens + packed->stats().padding_tokens, int64_t{b.rows} * b.seq_len);
    EXPECT_EQ(packed->stats().examples + packed->stats().dropped_examples, 300);
  }
}

}  // namespace
}  // namespace tunefleet
