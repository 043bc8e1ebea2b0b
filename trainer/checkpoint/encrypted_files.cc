#include "trainer/checkpoint/encrypted_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/crypto/encrypted_reader.h"
#include "trainer/checkpoint/checksummed_io.h"

namespace tunefleet {

std::string CheckpointFileContext(const std::string& save_id, const std::string& name) {
  return absl::StrCat(save_id, "/", name);
}

std::string FdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

absl::Status CheckEncryptionForm(const std::string& path, const crypto::KeyRing* keys) {
  absl::StatusOr<bool> encrypted = crypto::IsEncryptedFile(path);
  if (!encrypted.ok()) return encrypted.status();
  if (*encrypted && keys == nullptr) {
    absl::StatusOr<std::string> id = crypto::EncryptedFileKeyIdHex(path);
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

absl::StatusOr<std::string> ReadPlaintextFile(const std::string& path, const crypto::KeyRing* keys,
                                              const std::string& context) {
  if (absl::Status s = CheckEncryptionForm(path, keys); !s.ok()) return s;
  if (keys == nullptr) return ReadWholeFile(path);
  return crypto::DecryptFileToString(path, *keys, crypto::DecryptOptions::ExpectContext(context));
}

absl::StatusOr<int> OpenPlaintext(const std::string& path, const crypto::KeyRing* keys,
                                  const std::string& context) {
  if (absl::Status s = CheckEncryptionForm(path, keys); !s.ok()) return s;
  if (keys == nullptr) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", path));
    }
    return fd;
  }
  const int memfd = ::memfd_create("tunefleet-decrypted", MFD_CLOEXEC);
  if (memfd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot create a memory file to decrypt ", path));
  }
  absl::StatusOr<std::string> decrypted = crypto::DecryptFile(
      path, *keys,
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
