#include "trainer/checkpoint/encrypted_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/crypto/encrypted_reader.h"
#include "common/fs/process_path_policy.h"
#include "trainer/checkpoint/checksummed_io.h"

namespace tunefleet {

std::string CheckpointFileContext(const std::string& save_id, const std::string& name) {
  return absl::StrCat(save_id, "/", name);
}

std::string FdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

namespace {

// `path` opened once, through the path policy (beneath the allowed roots,
// symlinks resolved at open); what follows reads this descriptor, never the
// path again.
absl::StatusOr<UniqueFd> OpenConfined(const std::string& path) {
  absl::StatusOr<UniqueFd> fd = OpenUserFile(path);
  if (!fd.ok()) return absl::Status(fd.status().code(), absl::StrCat("cannot open ", path, ": ", fd.status().message()));
  return fd;
}

// CheckEncryptionForm of the file read at `readable` (an open descriptor's
// /proc/self/fd path), named `path` in messages.
absl::Status CheckEncryptionFormAt(const std::string& readable, const std::string& path,
                                   const crypto::KeyRing* keys) {
  absl::StatusOr<bool> encrypted = crypto::IsEncryptedFile(readable);
  if (!encrypted.ok()) return encrypted.status();
  if (*encrypted && keys == nullptr) {
    absl::StatusOr<std::string> id = crypto::EncryptedFileKeyIdHex(readable);
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": encrypted", id.ok() ? absl::StrCat(" with key ", *id) : std::string(),
                     ", but no encryption key is configured (--encryption-key-file, or the worker's; see "
                     "docs/security.md)"));
  }
  if (!*encrypted && keys != nullptr) {
    return absl::DataLossError(absl::StrCat(path,
                                            ": not encrypted, but encryption is configured: a plaintext file "
                                            "is refused (it could have been planted)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEncryptionForm(const std::string& path, const crypto::KeyRing* keys) {
  absl::StatusOr<UniqueFd> file = OpenConfined(path);
  if (!file.ok()) return file.status();
  return CheckEncryptionFormAt(FdPath(file->get()), path, keys);
}

absl::StatusOr<std::string> ReadPlaintextFile(const std::string& path, const crypto::KeyRing* keys,
                                              const std::string& context) {
  if (keys == nullptr) {
    if (absl::Status s = CheckEncryptionForm(path, keys); !s.ok()) return s;
    return ReadWholeFile(path);  // through the path policy too
  }
  absl::StatusOr<UniqueFd> file = OpenConfined(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = CheckEncryptionFormAt(FdPath(file->get()), path, keys); !s.ok()) return s;
  std::string plaintext;
  absl::StatusOr<std::string> decrypted = crypto::DecryptFd(
      file->get(), path, *keys,
      [&](const uint8_t* data, size_t size) {
        plaintext.append(reinterpret_cast<const char*>(data), size);
        return absl::OkStatus();
      },
      crypto::DecryptOptions::ExpectContext(context));
  if (!decrypted.ok()) return decrypted.status();
  return plaintext;
}

absl::StatusOr<int> OpenPlaintext(const std::string& path, const crypto::KeyRing* keys,
                                  const std::string& context) {
  absl::StatusOr<UniqueFd> file = OpenConfined(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = CheckEncryptionFormAt(FdPath(file->get()), path, keys); !s.ok()) return s;
  if (keys == nullptr) return file->release();
  const int memfd = ::memfd_create("tunefleet-decrypted", MFD_CLOEXEC);
  if (memfd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot create a memory file to decrypt ", path));
  }
  absl::StatusOr<std::string> decrypted = crypto::DecryptFd(
      file->get(), path, *keys,
      [&](const uint8_t* data, size_t size) -> absl::Status {
        while (size > 0) {
          const ssize_t n = ::write(memfd, data, size);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            const int err = errno;
            return absl::ErrnoToStatus(err, absl::StrCat("decrypting ", path, " into memory"));
          }
          data += n;
          size -= static_cast<size_t>(n);
        }
        return absl::OkStatus();
      },
      crypto::DecryptOptions::ExpectContext(context));
  if (!decrypted.ok()) {
    ::close(memfd);  // what was written before the failing chunk goes with it
    return decrypted.status();
  }
  ::lseek(memfd, 0, SEEK_SET);
  return memfd;
}

}  // namespace tunefleet
