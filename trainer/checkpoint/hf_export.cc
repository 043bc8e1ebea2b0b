#include "trainer/checkpoint/hf_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/encrypted_files.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/safetensors/atomic_file.h"
#include "trainer/safetensors/safetensors_reader.h"

namespace tunefleet {
namespace {

// `from`'s plaintext (decrypted into memory first when encrypted) to `to`.
absl::Status CopyFileAtomically(const std::string& from, const std::string& to, const crypto::KeyRing* keys,
                                const std::string& context) {
  absl::StatusOr<int> opened = OpenPlaintext(from, keys, context);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out = AtomicFileWriter::Create(to);
  if (!out.ok()) {
    ::close(fd);
    return out.status();
  }
  std::vector<char> buffer(8 << 20);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", from));
    }
    if (n == 0) break;
    if (absl::Status s = (*out)->Append(buffer.data(), static_cast<size_t>(n)); !s.ok()) {
      ::close(fd);
      return s;
    }
  }
  ::close(fd);
  return (*out)->Commit();
}

// transformers' name for the dtype of the first floating-point tensor.
std::string HfDTypeOf(const SafetensorsFile& weights) {
  for (const TensorView& view : weights.tensors()) {
    switch (view.dtype) {
      case SafetensorsDType::kBF16:
        return "bfloat16";
      case SafetensorsDType::kF16:
        return "float16";
      case SafetensorsDType::kF32:
        return "float32";
      default:
        break;
    }
  }
  return "float32";
}

absl::Status WriteConfig(const std::string& base_model_dir, const std::string& out_dir, const std::string& dtype) {
  absl::StatusOr<std::string> out_text = ExportConfigJson(base_model_dir, dtype);
  if (!out_text.ok()) return out_text.status();
  return WriteFileAtomically(out_dir + "/config.json", *out_text);
}

}  // namespace

absl::Status ExportCheckpointToHf(const CommittedCheckpoint& checkpoint, const std::string& base_model_dir,
                                  const std::string& out_dir, const crypto::KeyRing* keys) {
  if (checkpoint.manifest.FindFile(kModelWeightsFileName) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(checkpoint.dir, " holds no ", kModelWeightsFileName));
  }
  if (absl::Status s = VerifyCheckpointFiles(checkpoint, {kModelWeightsFileName}); !s.ok()) return s;
  if (absl::StatusOr<UniqueFd> made = MakeUserDirectories(out_dir); !made.ok()) {
    return absl::Status(made.status().code(), absl::StrCat("cannot create ", out_dir, ": ", made.status().message()));
  }
  const std::string weights = out_dir + "/" + kModelWeightsFileName;
  if (absl::Status s = CopyFileAtomically(checkpoint.dir + "/" + kModelWeightsFileName, weights, keys,
                                          CheckpointFileContext(checkpoint.manifest.save_id, kModelWeightsFileName));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(weights);
  if (!file.ok()) return file.status();
  if (absl::Status s = WriteConfig(base_model_dir, out_dir, HfDTypeOf(**file)); !s.ok()) return s;
  return WriteBaseSideFiles(base_model_dir, out_dir);
}

}  // namespace tunefleet
