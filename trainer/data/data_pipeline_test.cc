#include "trainer/data/data_pipeline.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "trainer/data/data_loader.h"
#include "trainer/data/fake_tokenizer.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string TestData(const std::string& name) {
  return std::string(TUNEFLEET_SOURCE_DIR) + "/trainer/data/testdata/" + name;
}

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

// n text documents "doc <i> ..." of varying length.
std::string TextDocs(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&s, R"({"text": "doc )", i, std::string(static_cast<size_t>(i % 7), '.'), "\"}\n");
  }
  return s;
}

// The texts of the examples in a batch (one per segment, EOS removed).
std::vector<std::string> DocumentsOf(const MicroBatch& b, const Tokenizer& tok) {
  std::vector<std::string> docs;
  for (int r = 0; r < b.rows; ++r) {
    std::map<int64_t, std::vector<int32_t>> segments;
    for (int t = 0; t < b.seq_len; ++t) {
      const size_t i = static_cast<size_t>(r * b.seq_len + t);
      if (b.segment_ids[i] != kPadSegmentId) segments[b.segment_ids[i]].push_back(static_cast<int32_t>(b.input_ids[i]));
    }
    for (const auto& [segment, ids] : segments) {
      docs.push_back(absl::StrReplaceAll(tok.Decode(ids), {{"<|endoftext|>", ""}}));
    }
  }
  return docs;
}

std::vector<std::string> AllDocuments(const PackedDataset& d, const Tokenizer& tok) {
  std::vector<int64_t> all;
  for (int64_t s = 0; s < d.num_sequences(); ++s) all.push_back(s);
  return DocumentsOf(d.Gather(all), tok);
}

DataPipelineOptions TextOptions(const std::string& path) {
  DataPipelineOptions o;
  o.train_path = path;
  o.sequence_length = 32;
  o.seed = 11;
  return o;
}

DataLoader MakeLoader(const PackedDataset& data, int global, int micro, int world, int rank, uint64_t seed) {
  SamplerOptions o;
  o.num_sequences = data.num_sequences();
  o.global_batch_size = global;
  o.micro_batch_size = micro;
  o.world_size = world;
  o.rank = rank;
  o.seed = seed;
  auto sampler = BatchSampler::Create(o);
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  return DataLoader(data, *std::move(sampler));
}

void ExpectSameBatch(const MicroBatch& a, const MicroBatch& b) {
  EXPECT_EQ(a.input_ids, b.input_ids);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.position_ids, b.position_ids);
  EXPECT_EQ(a.segment_ids, b.segment_ids);
  EXPECT_EQ(a.loss_tokens, b.loss_tokens);
}

TEST(DataPipelineTest, ChatFileTrainsOnAssistantTurnsOnly) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  DataPipelineOptions o;
  o.train_path = TestData("chat.jsonl");
  o.sequence_length = 256;
  auto data = LoadTrainingData(o, tok);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->format, v1::DATASET_FORMAT_CHAT);
  EXPECT_EQ(data->train_records, 2);
  EXPECT_FALSE(data->validation.has_value());
  ASSERT_EQ(data->train.num_sequences(), 1);  // both conversations packed in one row
  const MicroBatch b = data->train.Gather({0});
  std::vector<int32_t> targets;
  for (int64_t label : b.labels) {
    if (label != kIgnoreLabel) targets.push_back(static_cast<int32_t>(label));
  }
  const std::string trained = tok.Decode(targets);
  EXPECT_TRUE(trained == "Hello!<|im_end|>4<|im_end|>" || trained == "4<|im_end|>Hello!<|im_end|>") << trained;
  EXPECT_THAT(data->Summary(), HasSubstr("dataset (chat): training 2 records"));
}

TEST(DataPipelineTest, PromptCompletionUnderLlama3IsPlainConcatenation) {
  FakeTokenizer tok({"<|end_of_text|>", "<|begin_of_text|>"});
  DataPipelineOptions o;
  o.train_path = TestData("prompt_completion.jsonl");
  o.tokens.chat_template = v1::CHAT_TEMPLATE_LLAMA3;  // applies to chat datasets only
  o.packing = false;
  auto data = LoadTrainingData(o, tok);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train.num_sequences(), 2);
  EXPECT_EQ(data->train.stats().loss_tokens, 6 + 1 + 2 + 1);  // " Paris" + EOS, " 2" + EOS
}

TEST(DataPipelineTest, ValidationFractionIsDisjointAndDeterministic) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  DataPipelineOptions o = TextOptions(WriteFile("docs40.jsonl", TextDocs(40)));
  o.validation_fraction = 0.25;
  auto data = LoadTrainingData(o, tok);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_TRUE(data->validation.has_value());
  EXPECT_EQ(data->train_records, 30);
  EXPECT_EQ(data->validation_records, 10);
  const std::vector<std::string> train = AllDocuments(data->train, tok);
  const std::vector<std::string> validation = AllDocuments(*data->validation, tok);
  std::set<std::string> all(train.begin(), train.end());
  EXPECT_EQ(all.size(), 30u);
  for (const std::string& v : validation) EXPECT_TRUE(all.insert(v).second) << v << " in both sets";
  EXPECT_EQ(all.size(), 40u);

  auto again = LoadTrainingData(o, tok);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(AllDocuments(*again->validation, tok), validation);
  EXPECT_EQ(AllDocuments(again->train, tok), train);
  o.seed = 12;
  auto other = LoadTrainingData(o, tok);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(AllDocuments(*other->validation, tok), validation);
}

TEST(DataPipelineTest, SeparateValidationFileMustMatchTheFormat) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  DataPipelineOptions o = TextOptions(WriteFile("docs8.jsonl", TextDocs(8)));
  o.validation_path = TestData("text.jsonl");
  auto data = LoadTrainingData(o, tok);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train_records, 8);
  EXPECT_EQ(data->validation_records, 2);
  EXPECT_THAT(AllDocuments(*data->validation, tok),
              UnorderedElementsAre("The quick brown fox.", "Jumps over the lazy dog."));

  o.validation_path = TestData("chat.jsonl");
  data = LoadTrainingData(o, tok);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("chat.jsonl:1: missing key \"text\""));
}

TEST(DataPipelineTest, ErrorsNameTheProblem) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  EXPECT_EQ(LoadTrainingData(TextOptions("/nonexistent.jsonl"), tok).status().code(), absl::StatusCode::kNotFound);
  auto empty = LoadTrainingData(TextOptions(WriteFile("empty.jsonl", "\n")), tok);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("no examples"));
  auto nothing = LoadTrainingData(TextOptions(WriteFile("blank_texts.jsonl", "{\"text\": \"\"}\n")), tok);
  EXPECT_THAT(std::string(nothing.status().message()), HasSubstr("no example has a token to train on"));
  FakeTokenizer no_chatml({"<|endoftext|>"});
  DataPipelineOptions chat;
  chat.train_path = TestData("chat.jsonl");
  EXPECT_THAT(std::string(LoadTrainingData(chat, no_chatml).status().message()), HasSubstr("<|im_start|>"));
}

TEST(DataPipelineTest, PackingOrderAndBatchesAreDeterministicBySeed) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  const std::string path = WriteFile("docs60.jsonl", TextDocs(60));
  auto a = LoadTrainingData(TextOptions(path), tok);
  auto b = LoadTrainingData(TextOptions(path), tok);
  DataPipelineOptions other_seed = TextOptions(path);
  other_seed.seed = 99;
  auto c = LoadTrainingData(other_seed, tok);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const DataLoader la = MakeLoader(a->train, 4, 2, 1, 0, 11);
  const DataLoader lb = MakeLoader(b->train, 4, 2, 1, 0, 11);
  const DataLoader lc = MakeLoader(c->train, 4, 2, 1, 0, 99);
  ExpectSameBatch(la.Load({0, 1}, 1), lb.Load({0, 1}, 1));
  EXPECT_NE(la.Load({0, 0}, 0).input_ids, lc.Load({0, 0}, 0).input_ids);
}

TEST(DataPipelineTest, ResumingFromASavedPositionYieldsTheSameBatches) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  const DataPipelineOptions o = TextOptions(WriteFile("docs50.jsonl", TextDocs(50)));
  const int global = 4, micro = 1, world = 2, rank = 1;

  // An uninterrupted run of 12 steps (several epochs), saving the position after step 5.
  auto data = LoadTrainingData(o, tok);
  ASSERT_TRUE(data.ok()) << data.status();
  const DataLoader loader = MakeLoader(data->train, global, micro, world, rank, o.seed);
  ASSERT_LT(loader.steps_per_epoch(), 6) << "the run should cross an epoch boundary after the save";
  std::vector<std::vector<MicroBatch>> run;
  DataPosition pos;
  DataPosition saved;
  for (int step = 0; step < 12; ++step) {
    if (step == 6) saved = pos;
    std::vector<MicroBatch>& batches = run.emplace_back();
    for (int m = 0; m < loader.grad_accum_steps(); ++m) batches.push_back(loader.Load(pos, m));
    pos = loader.sampler().Next(pos);
  }

  // A new process: everything rebuilt from the files, only `saved` carried over.
  const DataPosition restored{saved.epoch, saved.step_in_epoch};
  auto fresh = LoadTrainingData(o, tok);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->train.fingerprint(), data->train.fingerprint());  // the same data: safe to resume
  const DataLoader resumed = MakeLoader(fresh->train, global, micro, world, rank, o.seed);
  ASSERT_TRUE(resumed.sampler().CheckPosition(restored).ok());
  pos = restored;
  for (int step = 6; step < 12; ++step) {
    for (int m = 0; m < resumed.grad_accum_steps(); ++m) {
      ExpectSameBatch(resumed.Load(pos, m), run[static_cast<size_t>(step)][static_cast<size_t>(m)]);
    }
    pos = resumed.sampler().Next(pos);
  }
}

TEST(DataPipelineTest, GlobalLossTokensIsTheSumOverRanksAndMicroBatches) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  auto data = LoadTrainingData(TextOptions(WriteFile("docs30.jsonl", TextDocs(30))), tok);
  ASSERT_TRUE(data.ok());
  const int world = 2;
  int64_t sum = 0;
  for (int r = 0; r < world; ++r) {
    const DataLoader l = MakeLoader(data->train, 4, 2, world, r, 5);
    for (int m = 0; m < l.grad_accum_steps(); ++m) sum += l.Load({1, 1}, m).loss_tokens;
  }
  EXPECT_EQ(sum, MakeLoader(data->train, 4, 2, world, 0, 5).GlobalLossTokens({1, 1}));
  EXPECT_GT(sum, 0);
}

TEST(DataPipelineTest, OptionsFromSpec) {
  v1::DatasetSpec ds;
  ds.set_path("/data/train.jsonl");
  ds.set_format(v1::DATASET_FORMAT_CHAT);
  ds.set_chat_template(v1::CHAT_TEMPLATE_LLAMA3);
  ds.set_validation_fraction(0.1);
  v1::HyperParameters hp;
  hp.set_sequence_length(1024);
  hp.set_seed(9);
  DataPipelineOptions o = DataPipelineOptions::FromSpec(ds, hp);
  EXPECT_EQ(o.train_path, "/data/train.jsonl");
  EXPECT_EQ(o.format, v1::DATASET_FORMAT_CHAT);
  EXPECT_EQ(o.tokens.chat_template, v1::CHAT_TEMPLATE_LLAMA3);
  EXPECT_EQ(o.validation_fraction, 0.1);
  EXPECT_EQ(o.sequence_length, 1024);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_TRUE(o.packing);  // unset means true
  ds.set_packing(false);
  EXPECT_FALSE(DataPipelineOptions::FromSpec(ds, hp).packing);
}

}  // namespace
}  // namespace tunefleet
