#include "trainer/checkpoint/manifest.h"

#include <limits>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "trainer/checkpoint/checkpoint_layout.h"
#include "trainer/checkpoint/crc32c.h"
#include "trainer/checkpoint/trainer_state.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

Manifest SampleManifest() {
  Manifest m;
  m.job = "job-1";
  m.step = 120;
  m.world_size = 2;
  m.save_id = "attempt-0";
  m.loss = 1.25;
  m.created_unix_ms = 1700000000123;
  m.files = {{"model.safetensors", 1234, 0xdeadbeef}, {"optim-rank-00000-of-00002.safetensors", 99, 1}};
  m.optimizer_shards = {{"optim-rank-00000-of-00002.safetensors", 0, 0, 50, 100, 97},
                        {"optim-rank-00001-of-00002.safetensors", 1, 50, 100, 100, 97}};
  return m;
}

TEST(ManifestTest, RoundTrips) {
  const Manifest m = SampleManifest();
  absl::StatusOr<Manifest> back = ManifestFromJson(ManifestToJson(m), "manifest.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->job, m.job);
  EXPECT_EQ(back->step, m.step);
  EXPECT_EQ(back->world_size, m.world_size);
  EXPECT_EQ(back->save_id, m.save_id);
  EXPECT_EQ(back->loss, m.loss);
  EXPECT_EQ(back->created_unix_ms, m.created_unix_ms);
  ASSERT_EQ(back->files.size(), 2u);
  EXPECT_EQ(back->files[0].crc32c, 0xdeadbeefu);
  EXPECT_EQ(back->files[0].size_bytes, 1234u);
  ASSERT_EQ(back->optimizer_shards.size(), 2u);
  EXPECT_EQ(back->optimizer_shards[1].begin, 50);
  EXPECT_EQ(back->optimizer_shards[1].numel, 97);
  ASSERT_NE(back->FindFile("model.safetensors"), nullptr);
  EXPECT_EQ(back->FindFile("absent"), nullptr);
}

TEST(ManifestTest, CarriesItsLineageAndOlderManifestsHaveNone) {
  Manifest m = SampleManifest();
  EXPECT_FALSE(ManifestFromJson(ManifestToJson(m), "manifest.json")->lineage.has_value());
  m.lineage = Lineage{"0.1.0", std::string(64, 'a'), {{"dataset", "/data/train.jsonl", 3, std::string(64, 'b')}}};
  absl::StatusOr<Manifest> back = ManifestFromJson(ManifestToJson(m), "manifest.json");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->lineage.has_value());
  EXPECT_EQ(LineageToJson(*back->lineage), LineageToJson(*m.lineage));
}

TEST(ManifestTest, NonFiniteLossIsLeftOut) {
  Manifest m = SampleManifest();
  m.loss = std::numeric_limits<double>::quiet_NaN();
  absl::StatusOr<Manifest> back = ManifestFromJson(ManifestToJson(m), "manifest.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->loss.has_value());
}

// Re-seals an edited manifest with a correct checksum, as a writer with bad
// intent (or fuzz/checkpoint_manifest_fuzz) would.
std::string Resealed(nlohmann::json j) {
  j.erase("manifest_crc32c");
  const std::string canonical = j.dump();
  j["manifest_crc32c"] = Crc32cHex(Crc32c(canonical.data(), canonical.size()));
  return j.dump();
}

// Found by fuzz/checkpoint_manifest_fuzz: a float where an integer belongs
// reached nlohmann's get<int64_t>(), a static_cast that is undefined past
// int64's range. Now an INVALID_ARGUMENT-class error naming file and key.
TEST(ManifestTest, NumbersThatAreNotIntegersOfTheirTypeAreErrorsNotCasts) {
  const nlohmann::json good = nlohmann::json::parse(ManifestToJson(SampleManifest()));
  const std::pair<const char*, nlohmann::json> cases[] = {
      {"step", 1e300}, {"step", 1.5}, {"world_size", int64_t{1} << 40}, {"created_unix_ms", -1e300},
      {"format_version", "1"}};
  for (const auto& [key, value] : cases) {
    nlohmann::json j = good;
    j[key] = value;
    auto back = ManifestFromJson(Resealed(j), "ckpt/manifest.json");
    ASSERT_FALSE(back.ok()) << key << " = " << value.dump();
    EXPECT_THAT(back.status().message(), HasSubstr("ckpt/manifest.json")) << key;
    EXPECT_THAT(back.status().message(), HasSubstr(key)) << back.status();
  }
  nlohmann::json shard = good;
  shard["optimizer_shards"][0]["end"] = 1e300;
  EXPECT_FALSE(ManifestFromJson(Resealed(shard), "m.json").ok());
  auto record = RankFilesRecordFromJson(R"({"rank": 1e300, "world_size": 2, "step": 1, "save_id": "a", "files": []})",
                                        "rank-0.files.json");
  ASSERT_FALSE(record.ok());
  EXPECT_THAT(record.status().message(), HasSubstr("rank"));
}

TEST(ManifestTest, AnEditedManifestFailsItsOwnChecksum) {
  std::string text = ManifestToJson(SampleManifest());
  const size_t at = text.find("\"step\": 120");
  ASSERT_NE(at, std::string::npos);
  text[at + 9] = '3';  // step 120 -> 130: still valid JSON
  absl::StatusOr<Manifest> back = ManifestFromJson(text, "/ckpt/step-120/manifest.json");
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(back.status().message(), HasSubstr("/ckpt/step-120/manifest.json"));
  EXPECT_THAT(back.status().message(), HasSubstr("checksum"));
}

TEST(ManifestTest, GarbageIsDataLossNamingTheFile) {
  absl::StatusOr<Manifest> back = ManifestFromJson("{\"files\": [", "x/manifest.json");
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(back.status().message(), HasSubstr("x/manifest.json"));
}

TEST(ManifestTest, RankFilesRecordRoundTrips) {
  RankFilesRecord r;
  r.rank = 1;
  r.world_size = 3;
  r.step = 7;
  r.save_id = "s";
  r.files = {{"a", 1, 2}};
  r.optimizer_shard = OptimizerShardRecord{"a", 1, 10, 20, 30, 25};
  absl::StatusOr<RankFilesRecord> back = RankFilesRecordFromJson(RankFilesRecordToJson(r), "r.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rank, 1);
  EXPECT_EQ(back->files[0].crc32c, 2u);
  ASSERT_TRUE(back->optimizer_shard.has_value());
  EXPECT_EQ(back->optimizer_shard->end, 20);
}

TEST(TrainerStateTest, RoundTripsBinaryRngStates) {
  TrainerState s;
  s.step = 42;
  s.epoch = 1;
  s.step_in_epoch = 17;
  s.lr_schedule_step = 42;
  s.world_size = 3;
  s.rank = 2;
  s.zero_stage = 2;
  s.flat_numel = 1001;
  s.flat_padded_numel = 1002;
  s.rng_states["torch_cpu"] = std::string("\0\x01\xff\x80 bytes", 10);
  s.rng_states["data"] = "";
  s.extra["seed"] = "1234";
  absl::StatusOr<TrainerState> back = TrainerStateFromJson(TrainerStateToJson(s), "state.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->step, 42);
  EXPECT_EQ(back->epoch, 1);
  EXPECT_EQ(back->step_in_epoch, 17);
  EXPECT_EQ(back->lr_schedule_step, 42);
  EXPECT_EQ(back->world_size, 3);
  EXPECT_EQ(back->rank, 2);
  EXPECT_EQ(back->zero_stage, 2);
  EXPECT_EQ(back->flat_numel, 1001);
  EXPECT_EQ(back->flat_padded_numel, 1002);
  EXPECT_EQ(back->rng_states, s.rng_states);
  EXPECT_EQ(back->extra, s.extra);
}

TEST(CheckpointLayoutTest, StepFolderNames) {
  EXPECT_EQ(StepDirectoryName(120), "step-00000120");
  EXPECT_EQ(ParseStepDirectoryName("step-00000120"), 120);
  EXPECT_EQ(ParseStepDirectoryName("step-7"), 7);
  EXPECT_EQ(ParseStepDirectoryName("step-"), std::nullopt);
  EXPECT_EQ(ParseStepDirectoryName("step-12.tmp"), std::nullopt);
  EXPECT_EQ(ParseStepDirectoryName("other"), std::nullopt);
  EXPECT_EQ(OptimizerShardFileName(1, 3), "optim-rank-00001-of-00003.safetensors");
  EXPECT_EQ(CheckpointRoot({"/vol", "job"}).StepDirectory(5), "/vol/job/step-00000005");
}

}  // namespace
}  // namespace tunefleet
