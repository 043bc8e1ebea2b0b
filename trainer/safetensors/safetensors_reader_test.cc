// Every way a .safetensors file can be malformed gives a clear error naming
// the file and the tensor, and no input crashes the reader.

#include "trainer/safetensors/safetensors_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "trainer/safetensors/safetensors_test_util.h"
#include "trainer/safetensors/safetensors_writer.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing_util::LittleEndian64;
using testing_util::NewTempDir;
using testing_util::RawSafetensors;
using testing_util::ReadBytes;
using testing_util::WriteBytes;

class SafetensorsReaderTest : public ::testing::Test {
 protected:
  // Writes `bytes` to a fresh file and opens it; remembers the path.
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> OpenBytes(const std::string& bytes) {
    path_ = absl::StrCat(dir_, "/f", counter_++, ".safetensors");
    WriteBytes(path_, bytes);
    return SafetensorsFile::Open(path_);
  }

  // Expects `bytes` to be rejected with `code`, naming the file, `tensor`
  // (when non-empty) and `what`.
  void ExpectError(const std::string& bytes, absl::StatusCode code, const std::string& tensor,
                   const std::string& what) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes);
    ASSERT_FALSE(file.ok()) << "accepted: " << what;
    const std::string message(file.status().message());
    EXPECT_EQ(file.status().code(), code) << message;
    EXPECT_THAT(message, HasSubstr(path_));
    if (!tensor.empty()) {
      EXPECT_THAT(message, HasSubstr("tensor '" + tensor + "'"));
    }
    EXPECT_THAT(message, HasSubstr(what));
  }

  // A one-tensor file: `entry` is the tensor's JSON, `data` the data section.
  void ExpectEntryError(const std::string& entry, const std::string& data, absl::StatusCode code,
                        const std::string& what) {
    ExpectError(RawSafetensors(R"({"w":)" + entry + "}", data), code, "w", what);
  }

  std::string dir_ = NewTempDir();
  std::string path_;
  int counter_ = 0;
};

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kDataLoss = absl::StatusCode::kDataLoss;

TEST_F(SafetensorsReaderTest, ReadsAHandBuiltFile) {
  // Trailing spaces in the header are the format's padding.
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(
      RawSafetensors(R"({"__metadata__":{"format":"pt"},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                     R"("a":{"dtype":"I16","shape":[1,1],"data_offsets":[2,4]}}   )",
                     "\x01\x02\x03\x04"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->path(), path_);
  EXPECT_EQ((*file)->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const TensorView* a = (*file)->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, SafetensorsDType::kI16);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(a->bytes(), "\x03\x04");
  EXPECT_EQ((*file)->Find("b")->bytes(), "\x01\x02");
  absl::StatusOr<const TensorView*> missing = (*file)->Get("c");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(path_));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("'c'"));
}

TEST_F(SafetensorsReaderTest, FileShorterThanEightBytes) {
  ExpectError("", kInvalid, "", "shorter than the 8-byte");
  ExpectError(std::string("\x02\0\0\0", 4), kInvalid, "", "4 bytes");
}

TEST_F(SafetensorsReaderTest, HeaderLengthBeyondTheFileOrAbsurd) {
  ExpectError(LittleEndian64(100) + "{}", kDataLoss, "", "header length 100 exceeds the file");
  ExpectError(LittleEndian64(200'000'000) + "{}", kInvalid, "", "exceeds the 100000000-byte limit");
  ExpectError(LittleEndian64(~uint64_t{0}) + "{}", kInvalid, "", "limit");
}

TEST_F(SafetensorsReaderTest, HeaderNotJsonOrNotAnObject) {
  ExpectError(RawSafetensors("{\"w\":", ""), kInvalid, "", "not valid JSON");
  ExpectError(RawSafetensors("", ""), kInvalid, "", "not valid JSON");
  ExpectError(RawSafetensors("[1,2]", ""), kInvalid, "", "must be a JSON object");
  ExpectError(RawSafetensors("\"x\"", ""), kInvalid, "", "must be a JSON object");
}

TEST_F(SafetensorsReaderTest, EntryNotAnObjectOrMissingAField) {
  ExpectEntryError("[]", "", kInvalid, "must be a JSON object");
  ExpectEntryError(R"({"shape":[1],"data_offsets":[0,4]})", "abcd", kInvalid, "missing \"dtype\"");
  ExpectEntryError(R"({"dtype":"F32","data_offsets":[0,4]})", "abcd", kInvalid, "missing \"shape\"");
  ExpectEntryError(R"({"dtype":"F32","shape":[1]})", "abcd", kInvalid, "missing \"data_offsets\"");
}

TEST_F(SafetensorsReaderTest, UnknownOrMistypedDType) {
  ExpectEntryError(R"({"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]})", "a", kInvalid,
                   "unknown dtype \"F8_E4M3\"");
  ExpectEntryError(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", "abcd", kInvalid, "unknown dtype");
  ExpectEntryError(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})", "abcd", kInvalid,
                   "dtype must be a string");
}

TEST_F(SafetensorsReaderTest, NegativeNonIntegerOrMistypedShape) {
  ExpectEntryError(R"({"dtype":"U8","shape":[-1],"data_offsets":[0,0]})", "", kInvalid,
                   "shape[0] must be a non-negative integer, got -1");
  ExpectEntryError(R"({"dtype":"U8","shape":[1,2.5],"data_offsets":[0,2]})", "ab", kInvalid,
                   "shape[1] must be a non-negative integer");
  ExpectEntryError(R"({"dtype":"U8","shape":[2.0],"data_offsets":[0,2]})", "ab", kInvalid,
                   "shape[0] must be a non-negative integer");
  ExpectEntryError(R"({"dtype":"U8","shape":["2"],"data_offsets":[0,2]})", "ab", kInvalid, "shape[0]");
  ExpectEntryError(R"({"dtype":"U8","shape":2,"data_offsets":[0,2]})", "ab", kInvalid,
                   "shape must be an array");
  ExpectEntryError(R"({"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,2]})", "ab", kInvalid,
                   "too large");
  // Dims whose product overflows 64 bits must not wrap around to a small size.
  ExpectEntryError(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]})", "", kInvalid,
                   "too large");
}

TEST_F(SafetensorsReaderTest, MalformedDataOffsets) {
  ExpectEntryError(R"({"dtype":"U8","shape":[2],"data_offsets":[0]})", "ab", kInvalid,
                   "data_offsets must be [begin, end]");
  ExpectEntryError(R"({"dtype":"U8","shape":[2],"data_offsets":[0,1,2]})", "ab", kInvalid,
                   "data_offsets must be [begin, end]");
  ExpectEntryError(R"({"dtype":"U8","shape":[2],"data_offsets":{"a":1}})", "ab", kInvalid,
                   "data_offsets must be [begin, end]");
  ExpectEntryError(R"({"dtype":"U8","shape":[2],"data_offsets":[-1,1]})", "ab", kInvalid,
                   "data_offsets[0] must be a non-negative integer");
  ExpectEntryError(R"({"dtype":"U8","shape":[2],"data_offsets":[0,"2"]})", "ab", kInvalid, "data_offsets[1]");
  ExpectEntryError(R"({"dtype":"U8","shape":[0],"data_offsets":[2,1]})", "ab", kInvalid, "begin > end");
}

TEST_F(SafetensorsReaderTest, TruncatedDataSection) {
  ExpectEntryError(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", std::string(10, 'x'), kDataLoss,
                   "reach past the data section (10 bytes); is the file truncated?");
}

TEST_F(SafetensorsReaderTest, ByteSizeDisagreesWithShapeAndDType) {
  ExpectEntryError(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,12]})", std::string(12, 'x'), kInvalid,
                   "holds 12 bytes but F32 [2,2] needs 16");
}

TEST_F(SafetensorsReaderTest, OverlappingTensors) {
  ExpectError(RawSafetensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                             "abcd"),
              kInvalid, "b", "overlap tensor 'a'");
}

TEST_F(SafetensorsReaderTest, HolesAndTrailingBytesInTheDataSection) {
  ExpectError(RawSafetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                             R"("b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})",
                             "abcde"),
              kInvalid, "b", "leave a hole: bytes [2, 3)");
  ExpectError(RawSafetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", "abc"), kInvalid,
              "a", "leave a hole: bytes [0, 1)");
  ExpectError(RawSafetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "abcd"), kInvalid,
              "", "2 trailing bytes [2, 4) that belong to no tensor (last tensor: 'a')");
  ExpectError(RawSafetensors("{}", "x"), kInvalid, "", "1 trailing bytes");
}

TEST_F(SafetensorsReaderTest, MetadataMustMapStringsToStrings) {
  ExpectError(RawSafetensors(R"({"__metadata__":{"step":3}})", ""), kInvalid, "",
              "\"__metadata__\" key 'step' must map to a string");
  ExpectError(RawSafetensors(R"({"__metadata__":[]})", ""), kInvalid, "",
              "\"__metadata__\" must be an object");
}

TEST_F(SafetensorsReaderTest, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  ExpectEntryError(deep, "", kInvalid, "entry must be a JSON object, got a JSON array");
  ExpectEntryError(R"({"dtype":"U8","shape":)" + deep + R"(,"data_offsets":[0,0]})", "", kInvalid,
                   "shape[0] must be a non-negative integer, got a JSON array");
  ExpectError(RawSafetensors(deep, ""), kInvalid, "", "must be a JSON object");
}

TEST_F(SafetensorsReaderTest, NotARegularFile) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(dir_);
  EXPECT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr(dir_));
}

// Every truncation of a valid file is rejected, and no corruption of its
// header crashes the reader (run under ASan/UBSan to make this bite).
TEST_F(SafetensorsReaderTest, NeverCrashesOnTruncatedOrCorruptedFiles) {
  const std::string valid_path = dir_ + "/valid.safetensors";
  const float f[3] = {1, 2, 3};
  const int64_t i[2] = {7, 8};
  ASSERT_TRUE(WriteSafetensors(valid_path,
                               {{"f", SafetensorsDType::kF32, {3}, f, sizeof(f)},
                                {"i", SafetensorsDType::kI64, {1, 2}, i, sizeof(i)}},
                               {{"format", "pt"}})
                  .ok());
  const std::string valid = ReadBytes(valid_path);
  ASSERT_TRUE(OpenBytes(valid).ok());
  for (size_t n = 0; n < valid.size(); ++n) {
    EXPECT_FALSE(OpenBytes(valid.substr(0, n)).ok()) << "truncated to " << n;
  }
  const char replacements[] = {'\0', '\xff', '{', '}', '[', ']', '"', ',', ':', '-', '0', '9', ' '};
  for (size_t pos = 0; pos < valid.size(); ++pos) {
    for (char c : replacements) {
      std::string bad = valid;
      if (bad[pos] == c) continue;
      bad[pos] = c;
      (void)OpenBytes(bad);  // any Status will do; it must return
    }
  }
}

}  // namespace
}  // namespace tunefleet
