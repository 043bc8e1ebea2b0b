#include "trainer/checkpoint/encrypted_export.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/encrypted_reader.h"
#include "common/crypto/encrypted_writer.h"
#include "common/fs/process_path_policy.h"
#include "common/fs/remove_tree.h"
#include "trainer/checkpoint/encrypted_files.h"
#include "trainer/safetensors/atomic_file.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

// Regular files under `dir`, as paths relative to it, in a stable order.
absl::StatusOr<std::vector<std::string>> RegularFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), dir, ec).string());
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status CreateParent(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("cannot create the folder of ", path, ": ", ec.message()));
  return absl::OkStatus();
}

// Streams `from` through `consume` in 8 MiB reads.
absl::Status ReadInChunks(const std::string& from,
                          const std::function<absl::Status(const uint8_t*, size_t)>& consume) {
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", from));
  }
  std::vector<uint8_t> buffer(size_t{8} << 20);
  absl::Status status;
  while (status.ok()) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      status = absl::ErrnoToStatus(err, absl::StrCat("cannot read ", from));
      break;
    }
    if (n == 0) break;
    status = consume(buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return status;
}

absl::Status EncryptFileTo(const std::string& from, const std::string& to, const crypto::EncryptionKey& key,
                           const std::string& context) {
  if (absl::Status s = CreateParent(to); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out = AtomicFileWriter::Create(to);
  if (!out.ok()) return out.status();
  absl::StatusOr<std::unique_ptr<crypto::EncryptingWriter>> writer = crypto::EncryptingWriter::Create(
      key, context, [&](const uint8_t* data, size_t size) { return (*out)->Append(data, size); });
  if (!writer.ok()) return writer.status();
  if (absl::Status s =
          ReadInChunks(from, [&](const uint8_t* data, size_t size) { return (*writer)->Append(data, size); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = (*writer)->Finish(); !s.ok()) return s;
  return (*out)->Commit();
}

// Removes the staging folder on every path out.
class StagingFolder {
 public:
  static absl::StatusOr<std::unique_ptr<StagingFolder>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tunefleet-export-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {  // 0700
      const int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("cannot create a private staging folder ", pattern));
    }
    auto folder = std::unique_ptr<StagingFolder>(new StagingFolder(pattern));
    // The folder is the trainer's own, off the shared storage and so outside
    // a confined job's roots: the installed policy gains it while it exists.
    std::shared_ptr<const PathPolicy> installed = InstalledPathPolicy();
    if (installed->confined()) {
      std::vector<std::string> roots = installed->RootPaths();
      roots.push_back(pattern);
      absl::StatusOr<PathPolicy> widened = PathPolicy::Confined(roots, installed->DeniedPaths());
      if (!widened.ok()) return widened.status();
      InstallPathPolicy(std::make_shared<const PathPolicy>(std::move(*widened)));
      folder->restore_ = std::move(installed);
    }
    return folder;
  }
  ~StagingFolder() {
    if (restore_) InstallPathPolicy(restore_);
    // Through descriptors, never following a link planted inside.
    RemoveTree(path_).IgnoreError();
  }
  const std::string& path() const { return path_; }

 private:
  explicit StagingFolder(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::shared_ptr<const PathPolicy> restore_;  // the policy before this folder was added
};

}  // namespace

absl::Status WriteExport(const std::string& out_dir, const crypto::KeyRing* keys,
                         const std::function<absl::Status(const std::string& dir)>& write) {
  if (keys == nullptr) return write(out_dir);
  absl::StatusOr<std::unique_ptr<StagingFolder>> staging = StagingFolder::Create();
  if (!staging.ok()) return staging.status();
  if (absl::Status s = write((*staging)->path()); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> files = RegularFiles((*staging)->path());
  if (!files.ok()) return files.status();
  for (const std::string& name : *files) {
    if (absl::Status s = EncryptFileTo(absl::StrCat((*staging)->path(), "/", name),
                                       absl::StrCat(out_dir, "/", name), keys->current(), name);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status DecryptDirectory(const std::string& in_dir, const std::string& out_dir,
                              const crypto::KeyRing& keys,
                              const std::function<void(const DecryptedFile&)>& report) {
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(in_dir, out_dir, ec)) {
    return absl::InvalidArgumentError("decrypt: --in and --out are the same folder");
  }
  absl::StatusOr<std::vector<std::string>> files = RegularFiles(in_dir);
  if (!files.ok()) return files.status();
  if (files->empty()) return absl::NotFoundError(absl::StrCat(in_dir, " holds no files"));
  for (const std::string& name : *files) {
    const std::string from = absl::StrCat(in_dir, "/", name);
    const std::string to = absl::StrCat(out_dir, "/", name);
    absl::StatusOr<bool> encrypted = crypto::IsEncryptedFile(from);
    if (!encrypted.ok()) return encrypted.status();
    if (absl::Status s = CreateParent(to); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out = AtomicFileWriter::Create(to);
    if (!out.ok()) return out.status();
    DecryptedFile done{name, *encrypted, ""};
    const auto append = [&](const uint8_t* data, size_t size) { return (*out)->Append(data, size); };
    if (*encrypted) {
      absl::StatusOr<std::string> context = crypto::DecryptFile(from, keys, append);
      if (!context.ok()) return context.status();
      if (*context != name && !absl::EndsWith(*context, absl::StrCat("/", name))) {
        return absl::DataLossError(
            absl::StrCat(from, ": encrypted as \"", *context, "\", not as this file (moved or substituted)"));
      }
      done.context = *context;
    } else if (absl::Status s = ReadInChunks(from, append); !s.ok()) {
      return s;
    }
    if (absl::Status s = (*out)->Commit(); !s.ok()) return s;
    if (report) report(done);
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
