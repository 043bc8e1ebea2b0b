// torch::Tensor <-> safetensors: every torch dtype round trips bit for bit,
// and an unexpected dtype or shape is an error naming the tensor.

#include "trainer/safetensors/safetensors_torch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "trainer/safetensors/safetensors_test_util.h"

namespace tunefleet {
namespace {

using ::testing::HasSubstr;
using testing_util::NewTempDir;
using testing_util::RawSafetensors;
using testing_util::ReadBytes;
using testing_util::WriteBytes;

torch::Tensor Sample(torch::ScalarType dtype) {
  torch::Tensor values = torch::arange(-6, 6, torch::kFloat64).reshape({3, 4}) * 1.25;
  if (dtype == torch::kBool) return values.gt(0);
  if (dtype == torch::kUInt8) return values.abs().to(dtype);
  return values.to(dtype);
}

std::unique_ptr<SafetensorsFile> OpenOrDie(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *std::move(file) : nullptr;
}

TEST(SafetensorsTorch, RoundTripsEveryTorchDType) {
  const std::vector<torch::ScalarType> dtypes = {
      torch::kFloat64, torch::kFloat32, torch::kFloat16, torch::kBFloat16, torch::kInt64,
      torch::kInt32,   torch::kInt16,   torch::kInt8,    torch::kUInt8,    torch::kBool};
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (torch::ScalarType dtype : dtypes) {
    tensors.emplace_back(std::string("t.") + c10::toString(dtype), Sample(dtype));
  }
  const std::string path = NewTempDir() + "/torch.safetensors";
  ASSERT_TRUE(WriteTorchSafetensors(path, tensors, {{"format", "pt"}}).ok());

  std::unique_ptr<SafetensorsFile> file = OpenOrDie(path);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  for (const auto& [name, want] : tensors) {
    absl::StatusOr<const TensorView*> view = file->Get(name);
    ASSERT_TRUE(view.ok()) << view.status();
    absl::StatusOr<torch::Tensor> got = ToTorch(**view, {want.scalar_type(), want.sizes().vec()});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->scalar_type(), want.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(*got, want)) << name;
  }
}

TEST(SafetensorsTorch, Bf16IsStoredAsItsRawLittleEndianBits) {
  const std::string path = NewTempDir() + "/bf16.safetensors";
  // bf16(1.0) = 0x3F80, bf16(-2.0) = 0xC000.
  torch::Tensor t = torch::tensor({1.0, -2.0}, torch::kBFloat16);
  ASSERT_TRUE(WriteTorchSafetensors(path, {{"w", t}}).ok());
  const std::string bytes = ReadBytes(path);
  EXPECT_THAT(bytes, HasSubstr(R"("dtype":"BF16")"));
  EXPECT_EQ(bytes.substr(bytes.size() - 4), std::string("\x80\x3f\x00\xc0", 4));
  std::unique_ptr<SafetensorsFile> file = OpenOrDie(path);
  ASSERT_NE(file, nullptr);
  absl::StatusOr<torch::Tensor> back = ToTorch(*file->Find("w"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(torch::equal(*back, t));
}

TEST(SafetensorsTorch, NonContiguousInputIsWrittenInLogicalOrder) {
  const std::string path = NewTempDir() + "/t.safetensors";
  torch::Tensor t = torch::arange(6, torch::kFloat32).reshape({2, 3}).t();  // [3, 2] view
  ASSERT_FALSE(t.is_contiguous());
  ASSERT_TRUE(WriteTorchSafetensors(path, {{"t", t}}).ok());
  std::unique_ptr<SafetensorsFile> file = OpenOrDie(path);
  ASSERT_NE(file, nullptr);
  absl::StatusOr<torch::Tensor> back = ToTorch(*file->Find("t"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->sizes().vec(), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(torch::equal(*back, t));
}

TEST(SafetensorsTorch, ResultIsACopyThatOutlivesTheFile) {
  const std::string path = NewTempDir() + "/c.safetensors";
  ASSERT_TRUE(WriteTorchSafetensors(path, {{"w", torch::ones({4})}}).ok());
  std::unique_ptr<SafetensorsFile> file = OpenOrDie(path);
  ASSERT_NE(file, nullptr);
  absl::StatusOr<torch::Tensor> w = ToTorch(*file->Find("w"));
  ASSERT_TRUE(w.ok());
  file.reset();  // unmaps
  w->add_(1.0);  // writable, and not backed by the mapping
  EXPECT_TRUE(torch::equal(*w, torch::full({4}, 2.0)));
}

TEST(SafetensorsTorch, DTypeOrShapeMismatchNamesTheTensor) {
  const std::string path = NewTempDir() + "/m.safetensors";
  ASSERT_TRUE(
      WriteTorchSafetensors(path, {{"model.embed_tokens.weight", torch::zeros({2, 3}, torch::kBFloat16)}})
          .ok());
  std::unique_ptr<SafetensorsFile> file = OpenOrDie(path);
  ASSERT_NE(file, nullptr);
  const TensorView& view = *file->Find("model.embed_tokens.weight");

  absl::StatusOr<torch::Tensor> wrong_dtype = ToTorch(view, {torch::kFloat32, std::nullopt});
  ASSERT_FALSE(wrong_dtype.ok());
  EXPECT_EQ(wrong_dtype.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(wrong_dtype.status().message());
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("tensor 'model.embed_tokens.weight'"));
  EXPECT_THAT(message, HasSubstr("expected dtype Float"));
  EXPECT_THAT(message, HasSubstr("BF16"));

  absl::StatusOr<torch::Tensor> wrong_shape = ToTorch(view, {std::nullopt, std::vector<int64_t>{3, 2}});
  ASSERT_FALSE(wrong_shape.ok());
  message = std::string(wrong_shape.status().message());
  EXPECT_THAT(message, HasSubstr("tensor 'model.embed_tokens.weight'"));
  EXPECT_THAT(message, HasSubstr("expected shape [3, 2], the file holds [2, 3]"));

  EXPECT_TRUE(ToTorch(view, {torch::kBFloat16, std::vector<int64_t>{2, 3}}).ok());
}

TEST(SafetensorsTorch, UnrepresentableInputsAreErrorsNotExceptions) {
  const std::string dir = NewTempDir();
  absl::Status complex =
      WriteTorchSafetensors(dir + "/x.safetensors", {{"z", torch::zeros({2}, torch::kComplexFloat)}});
  EXPECT_EQ(complex.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(complex.message()), HasSubstr("tensor 'z'"));

  absl::Status undefined = WriteTorchSafetensors(dir + "/x.safetensors", {{"u", torch::Tensor()}});
  EXPECT_EQ(undefined.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(undefined.message()), HasSubstr("tensor 'u'"));

  // Unsigned wider types exist in the format but not in libtorch 1.13.
  WriteBytes(dir + "/u16.safetensors",
             RawSafetensors(R"({"u":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}})", "ab"));
  std::unique_ptr<SafetensorsFile> file = OpenOrDie(dir + "/u16.safetensors");
  ASSERT_NE(file, nullptr);
  absl::StatusOr<torch::Tensor> u16 = ToTorch(*file->Find("u"));
  EXPECT_EQ(u16.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(u16.status().message()), HasSubstr("tensor 'u'"));

  WriteBytes(dir + "/b.safetensors",
             RawSafetensors(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                            std::string("\x01\x02", 2)));
  file = OpenOrDie(dir + "/b.safetensors");
  ASSERT_NE(file, nullptr);
  absl::StatusOr<torch::Tensor> bad_bool = ToTorch(*file->Find("b"));
  EXPECT_EQ(bad_bool.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_bool.status().message()), HasSubstr("tensor 'b'"));
}

}  // namespace
}  // namespace tunefleet
