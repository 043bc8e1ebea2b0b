#include "trainer/data/task_data.h"

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "trainer/data/fake_tokenizer.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

std::string Lines(int n, const std::string& make_line_prefix) {
  std::string s;
  for (int i = 0; i < n; ++i) absl::StrAppend(&s, make_line_prefix, i, "\"}\n");
  return s;
}

v1::DatasetSpec TwoTasks() {
  v1::DatasetSpec d;
  d.set_packing(false);
  d.set_chat_template(v1::CHAT_TEMPLATE_CHATML);
  v1::DatasetTask* text = d.add_tasks();
  text->set_name("prose");
  text->set_path(WriteFile("tasks_prose.jsonl", Lines(20, R"({"text": "prose )")));
  text->set_validation_fraction(0.25);
  text->set_weight(3);
  v1::DatasetTask* qa = d.add_tasks();
  qa->set_name("qa");
  qa->set_path(WriteFile("tasks_qa.jsonl", Lines(8, R"({"prompt": "q?", "completion": "a)")));
  qa->set_validation_path(WriteFile("tasks_qa_val.jsonl", Lines(3, R"({"prompt": "q?", "completion": "v)")));
  qa->set_loss_weight(2);
  return d;
}

TEST(TaskDataTest, EachTaskIsLoadedOnItsOwnWithItsFormatAndSettings) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  v1::HyperParameters hp;
  hp.set_sequence_length(64);
  auto tasks = LoadTaskData(TwoTasks(), hp, tok);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 2u);
  EXPECT_EQ((*tasks)[0].name, "prose");
  EXPECT_EQ((*tasks)[0].data.format, v1::DATASET_FORMAT_TEXT);
  EXPECT_EQ((*tasks)[0].data.train_records, 15);
  EXPECT_EQ((*tasks)[0].data.validation_records, 5);
  EXPECT_EQ((*tasks)[0].data.train.num_sequences(), 15);  // no packing: one sequence per example
  EXPECT_EQ((*tasks)[0].weight, 3);
  EXPECT_EQ((*tasks)[0].loss_weight, 1);  // unset: 1
  EXPECT_EQ((*tasks)[1].data.format, v1::DATASET_FORMAT_PROMPT_COMPLETION);
  EXPECT_EQ((*tasks)[1].data.train_records, 8);
  EXPECT_EQ((*tasks)[1].data.validation_records, 3);
  EXPECT_EQ((*tasks)[1].weight, 1);
  EXPECT_EQ((*tasks)[1].loss_weight, 2);
  for (int64_t s = 0; s < (*tasks)[1].data.train.num_sequences(); ++s) {
    EXPECT_EQ((*tasks)[1].data.train.examples(s), 1);
    EXPECT_GT((*tasks)[1].data.train.tokens(s), 0);
  }
}

TEST(TaskDataTest, ATaskInheritsTheDatasetChatTemplateUnlessItSetsOne) {
  v1::DatasetSpec d = TwoTasks();
  d.set_chat_template(v1::CHAT_TEMPLATE_LLAMA3);
  d.mutable_tasks(1)->set_chat_template(v1::CHAT_TEMPLATE_CHATML);
  v1::HyperParameters hp;
  EXPECT_EQ(TaskPipelineOptions(d, 0, hp).tokens.chat_template, v1::CHAT_TEMPLATE_LLAMA3);
  EXPECT_EQ(TaskPipelineOptions(d, 1, hp).tokens.chat_template, v1::CHAT_TEMPLATE_CHATML);
  EXPECT_NE(TaskPipelineOptions(d, 0, hp).seed, TaskPipelineOptions(d, 1, hp).seed);
}

TEST(TaskDataTest, AMissingTaskFileIsNamedWithItsTask) {
  FakeTokenizer tok = FakeTokenizer::WithAllSpecials();
  v1::DatasetSpec d = TwoTasks();
  d.mutable_tasks(1)->set_path(::testing::TempDir() + "/no_such_task.jsonl");
  auto tasks = LoadTaskData(d, v1::HyperParameters(), tok);
  EXPECT_EQ(tasks.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(tasks.status().message()), HasSubstr("task qa: "));
  EXPECT_THAT(std::string(tasks.status().message()), HasSubstr("no_such_task.jsonl"));
}

}  // namespace
}  // namespace tunefleet
