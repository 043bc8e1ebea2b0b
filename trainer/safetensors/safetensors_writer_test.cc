// The writer's output, byte for byte, and its round trip through the reader.

#include "trainer/safetensors/safetensors_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "trainer/safetensors/safetensors_reader.h"
#include "trainer/safetensors/safetensors_test_util.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing_util::FileExists;
using testing_util::LittleEndian64;
using testing_util::NewTempDir;
using testing_util::ReadBytes;

TEST(SafetensorsWriter, ExactBytesSortedNamesAlignedDataSection) {
  const std::string path = NewTempDir() + "/model.safetensors";
  const float b[2] = {1.0f, 2.0f};
  const int8_t a[3] = {1, 2, 3};
  // Given out of name order: the file orders them by name.
  std::vector<TensorToWrite> tensors = {
      {"b", SafetensorsDType::kF32, {2}, b, sizeof(b)},
      {"a", SafetensorsDType::kI8, {3}, a, sizeof(a)},
  };
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());

  std::string json = R"({"__metadata__":{"format":"pt"},)"
                     R"("a":{"data_offsets":[0,3],"dtype":"I8","shape":[3]},)"
                     R"("b":{"data_offsets":[3,11],"dtype":"F32","shape":[2]}})";
  json.append((8 - json.size() % 8) % 8, ' ');
  ASSERT_EQ(json.size() % 8, 0u);
  std::string expected = LittleEndian64(json.size()) + json + std::string("\x01\x02\x03", 3);
  expected.append(reinterpret_cast<const char*>(b), sizeof(b));

  const std::string bytes = ReadBytes(path);
  EXPECT_EQ(bytes, expected);
  EXPECT_EQ((8 + json.size()) % 8, 0u) << "data section must start 8-byte aligned";
  EXPECT_FALSE(FileExists(path + ".tmp"));
}

TEST(SafetensorsWriter, RoundTripsEveryDType) {
  const std::string path = NewTempDir() + "/all.safetensors";
  std::vector<std::string> payloads;
  std::vector<TensorToWrite> tensors;
  int seed = 0;
  for (SafetensorsDType dtype : kAllSafetensorsDTypes) {
    std::string bytes(6 * DTypeSize(dtype), '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
      // BOOL bytes must be 0/1 to mean anything; the rest get a pattern.
      bytes[i] =
          static_cast<char>(dtype == SafetensorsDType::kBool ? (i + seed) % 2 : (i * 37 + seed * 11) & 0xff);
    }
    payloads.push_back(bytes);
    ++seed;
  }
  size_t i = 0;
  for (SafetensorsDType dtype : kAllSafetensorsDTypes) {
    tensors.push_back(
        {"t." + std::string(DTypeName(dtype)), dtype, {2, 3}, payloads[i].data(), payloads[i].size()});
    ++i;
  }
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  EXPECT_TRUE((*file)->metadata().empty());
  for (const TensorToWrite& want : tensors) {
    absl::StatusOr<const TensorView*> got = (*file)->Get(want.name);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)->dtype, want.dtype) << want.name;
    EXPECT_EQ((*got)->shape, want.shape) << want.name;
    EXPECT_EQ((*got)->numel(), 6);
    EXPECT_EQ((*got)->file, path);
    EXPECT_EQ((*got)->bytes(), std::string(static_cast<const char*>(want.data), want.size_bytes))
        << want.name;
  }
  EXPECT_EQ((*file)->names().front(), "t.BF16");  // sorted by name
}

TEST(SafetensorsWriter, HeaderOmitsEmptyMetadataAndPadsWithSpaces) {
  absl::StatusOr<std::string> header = BuildSafetensorsHeader("p", {}, {});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, "{}      ");
}

TEST(SafetensorsWriter, EmptyScalarAndZeroElementTensors) {
  const std::string path = NewTempDir() + "/edge.safetensors";
  const double scalar = 3.5;
  std::vector<TensorToWrite> tensors = {
      {"scalar", SafetensorsDType::kF64, {}, &scalar, sizeof(scalar)},
      {"empty", SafetensorsDType::kF32, {0, 4}, nullptr, 0},
  };
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"k", "v"}, {"a", "b"}}).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const TensorView* s = (*file)->Find("scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numel(), 1);
  double got = 0;
  std::memcpy(&got, s->data, sizeof(got));
  EXPECT_EQ(got, 3.5);
  const TensorView* e = (*file)->Find("empty");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size_bytes, 0u);
  EXPECT_EQ(e->numel(), 0);
  EXPECT_EQ((*file)->metadata(), (std::map<std::string, std::string>{{"a", "b"}, {"k", "v"}}));

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> none =
      SafetensorsFile::Open(NewTempDir() + "/missing.safetensors");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

TEST(SafetensorsWriter, ReplacesAnExistingFileAndLeavesNoTmp) {
  const std::string path = NewTempDir() + "/w.safetensors";
  const int32_t one = 1, two = 2;
  ASSERT_TRUE(WriteSafetensors(path, {{"x", SafetensorsDType::kI32, {1}, &one, 4}}).ok());
  ASSERT_TRUE(WriteSafetensors(path, {{"y", SafetensorsDType::kI32, {1}, &two, 4}}).ok());
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->names(), std::vector<std::string>{"y"});
  EXPECT_FALSE(FileExists(path + ".tmp"));
}

TEST(SafetensorsWriter, RejectsBadInputNamingPathAndTensor) {
  const std::string path = NewTempDir() + "/bad.safetensors";
  const float data[4] = {};
  struct Case {
    std::vector<TensorToWrite> tensors;
    std::string tensor;
    std::string what;
  };
  const std::vector<Case> cases = {
      {{{"w", SafetensorsDType::kF32, {3}, data, 16}}, "w", "needs 12"},
      {{{"w", SafetensorsDType::kF32, {2, -2}, data, 16}}, "w", "negative dimension"},
      {{{"d", SafetensorsDType::kF32, {1}, data, 4}, {"d", SafetensorsDType::kF32, {1}, data, 4}},
       "d",
       "duplicate"},
      {{{"__metadata__", SafetensorsDType::kF32, {1}, data, 4}}, "__metadata__", "reserved"},
      {{{"n", SafetensorsDType::kF32, {1}, nullptr, 4}}, "n", "null data"},
  };
  for (const Case& c : cases) {
    absl::Status s = WriteSafetensors(path, c.tensors);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(std::string(s.message()), HasSubstr(path));
    EXPECT_THAT(std::string(s.message()), HasSubstr("'" + c.tensor + "'"));
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.what));
    EXPECT_FALSE(FileExists(path));
    EXPECT_FALSE(FileExists(path + ".tmp"));
  }
  // Names must be valid UTF-8, as JSON requires.
  absl::Status s = WriteSafetensors(path, {{"\xff", SafetensorsDType::kF32, {1}, data, 4}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
}

TEST(SafetensorsWriter, OsErrorsKeepTheirCodeAndNameThePath) {
  const std::string path = NewTempDir() + "/no/such/dir/w.safetensors";
  const float x = 1;
  absl::Status s = WriteSafetensors(path, {{"x", SafetensorsDType::kF32, {1}, &x, 4}});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
}

}  // namespace
}  // namespace tunefleet
