#include "common/crypto/encrypted_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/chunk_cipher.h"
#include "common/crypto/encrypted_file_format.h"
#include "common/fs/unique_fd.h"

namespace tunefleet::crypto {
namespace {

// Reads exactly `size` bytes unless the file ends first; the count read.
absl::StatusOr<size_t> ReadFully(int fd, const std::string& path, uint8_t* out, size_t size) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, out + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

absl::StatusOr<int> OpenForReading(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", path));
  }
  return fd;
}

// The header: fixed part and context, read and parsed.
struct ReadHeader {
  EncryptedFileHeader header;
  std::string bytes;  // serialized, the AAD
};

absl::StatusOr<ReadHeader> ReadAndParseHeader(int fd, const std::string& path) {
  ReadHeader out;
  std::string fixed(kFixedHeaderBytes, '\0');
  absl::StatusOr<size_t> got = ReadFully(fd, path, reinterpret_cast<uint8_t*>(fixed.data()), fixed.size());
  if (!got.ok()) return got.status();
  fixed.resize(*got);
  if (*got < kFixedHeaderBytes) {
    if (HasEncryptedFileMagic(fixed)) {
      return absl::DataLossError(
          absl::StrCat(path, ": encrypted file truncated inside its header (", *got, " bytes)"));
    }
    return absl::DataLossError(absl::StrCat(path, ": not an encrypted file (no TFCRYPT header)"));
  }
  absl::StatusOr<size_t> context_size = ParseFixedHeader(fixed, path, &out.header);
  if (!context_size.ok()) return context_size.status();
  out.header.context.assign(*context_size, '\0');
  got = ReadFully(fd, path, reinterpret_cast<uint8_t*>(out.header.context.data()), *context_size);
  if (!got.ok()) return got.status();
  if (*got != *context_size) {
    return absl::DataLossError(absl::StrCat(path, ": encrypted file truncated inside its header"));
  }
  out.bytes = fixed + out.header.context;
  return out;
}

}  // namespace

absl::StatusOr<std::string> DecryptFd(int fd, const std::string& path, const KeyRing& keys,
                                      const PlaintextSink& consume, const DecryptOptions& options) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot stat ", path));
  }
  const off_t start = ::lseek(fd, 0, SEEK_CUR);
  absl::StatusOr<ReadHeader> header = ReadAndParseHeader(fd, path);
  if (!header.ok()) return header.status();
  const EncryptedFileHeader& h = header->header;
  const EncryptionKey* key = keys.Find(h.key_id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": encrypted with key ", KeyIdHex(h.key_id),
                                                      ", which is not among the configured key(s) ",
                                                      keys.IdsHex(), " (wrong key)"));
  }
  if (options.expected_context && *options.expected_context != h.context) {
    return absl::DataLossError(absl::StrCat(path, ": encrypted as \"", h.context, "\", expected \"",
                                            *options.expected_context, "\" (moved or substituted)"));
  }
  absl::StatusOr<std::string> file_key = DeriveFileKey(*key, h.salt);
  if (!file_key.ok()) return file_key.status();
  absl::StatusOr<std::unique_ptr<ChunkCipher>> cipher = ChunkCipher::Create(*file_key, header->bytes);
  std::fill(file_key->begin(), file_key->end(), '\0');
  if (!cipher.ok()) return cipher.status();

  // The chunk count follows from the size; which chunk is last is known
  // before it is read, and its flag in the nonce must agree.
  const uint64_t body =
      static_cast<uint64_t>(st.st_size) - static_cast<uint64_t>(start) - header->bytes.size();
  const uint64_t sealed_chunk = h.chunk_size() + kTagBytes;
  if (static_cast<uint64_t>(st.st_size) < static_cast<uint64_t>(start) + header->bytes.size() ||
      body < kTagBytes) {
    return absl::DataLossError(absl::StrCat(path, ": encrypted file truncated (", st.st_size,
                                            " bytes, no complete chunk after the header)"));
  }
  const uint64_t chunks = (body + sealed_chunk - 1) / sealed_chunk;
  const uint64_t last_size = body - (chunks - 1) * sealed_chunk;
  if (last_size < kTagBytes || (last_size == kTagBytes && chunks > 1)) {
    return absl::DataLossError(
        absl::StrCat(path, ": encrypted file truncated (", st.st_size, " bytes end inside a chunk)"));
  }
  std::vector<uint8_t> sealed(sealed_chunk);
  std::vector<uint8_t> plain(h.chunk_size());
  for (uint64_t i = 0; i < chunks; ++i) {
    const bool last = i + 1 == chunks;
    const size_t size = last ? static_cast<size_t>(last_size) : static_cast<size_t>(sealed_chunk);
    absl::StatusOr<size_t> got = ReadFully(fd, path, sealed.data(), size);
    if (!got.ok()) return got.status();
    if (*got != size) {
      return absl::DataLossError(
          absl::StrCat(path, ": encrypted file shrank while being read (chunk ", i, ")"));
    }
    if (!(*cipher)->Open(i, last, sealed.data(), size, plain.data())) {
      return absl::DataLossError(
          absl::StrCat(path, ": chunk ", i, " of ", chunks,
                       " does not authenticate (AES-GCM tag mismatch: the file was modified, truncated at a "
                       "chunk boundary, or "
                       "its chunks reordered; the key id matches, so not a wrong key)"));
    }
    if (absl::Status s = consume(plain.data(), size - kTagBytes); !s.ok()) return s;
  }
  return h.context;
}

absl::StatusOr<std::string> DecryptFile(const std::string& path, const KeyRing& keys,
                                        const PlaintextSink& consume, const DecryptOptions& options) {
  absl::StatusOr<int> fd = OpenForReading(path);
  if (!fd.ok()) return fd.status();
  const UniqueFd closer(*fd);
  ::posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return DecryptFd(*fd, path, keys, consume, options);
}

absl::StatusOr<std::string> DecryptFileToString(const std::string& path, const KeyRing& keys,
                                                const DecryptOptions& options) {
  std::string out;
  absl::StatusOr<std::string> context = DecryptFile(
      path, keys,
      [&](const uint8_t* data, size_t size) {
        out.append(reinterpret_cast<const char*>(data), size);
        return absl::OkStatus();
      },
      options);
  if (!context.ok()) return context.status();
  return out;
}

absl::StatusOr<bool> IsEncryptedFile(const std::string& path) {
  absl::StatusOr<int> fd = OpenForReading(path);
  if (!fd.ok()) return fd.status();
  const UniqueFd closer(*fd);
  uint8_t prefix[8];
  absl::StatusOr<size_t> got = ReadFully(*fd, path, prefix, sizeof(prefix));
  if (!got.ok()) return got.status();
  return HasEncryptedFileMagic(absl::string_view(reinterpret_cast<const char*>(prefix), *got));
}

absl::StatusOr<std::string> EncryptedFileKeyIdHex(const std::string& path) {
  absl::StatusOr<int> fd = OpenForReading(path);
  if (!fd.ok()) return fd.status();
  const UniqueFd closer(*fd);
  absl::StatusOr<ReadHeader> header = ReadAndParseHeader(*fd, path);
  if (!header.ok()) return header.status();
  return KeyIdHex(header->header.key_id);
}

}  // namespace tunefleet::crypto
