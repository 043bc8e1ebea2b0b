#include "trainer/checkpoint/checksummed_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/encrypted_writer.h"
#include "common/fs/process_path_policy.h"
#include "trainer/checkpoint/crc32c.h"
#include "trainer/safetensors/atomic_file.h"

namespace tunefleet {
namespace {

// Reads `fd` to its end in chunks of `chunk` bytes, handing each to
// `consume`; retries reads a signal interrupted. Leaves `fd` open.
absl::Status ReadChunks(int fd, const std::string& path, size_t chunk,
                        const std::function<void(const uint8_t*, size_t)>& consume) {
  std::vector<uint8_t> buffer(chunk);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;  // before StrCat can change it
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
    }
    if (n == 0) return absl::OkStatus();
    consume(buffer.data(), static_cast<size_t>(n));
  }
}

// Appends through the encryption (when on), then the checksum, in chunks
// so the hook sees progress of the bytes on disk.
class ChecksummedAppender {
 public:
  ChecksummedAppender(AtomicFileWriter& out, std::string name, const WriteProgressHook& hook)
      : out_(out), name_(std::move(name)), hook_(hook) {}

  // Before the first Append: seal everything that follows.
  absl::Status Encrypt(const FileEncryption& encryption) {
    absl::StatusOr<std::unique_ptr<crypto::EncryptingWriter>> writer = crypto::EncryptingWriter::Create(
        *encryption.key, encryption.context, [this](const uint8_t* data, size_t size) { return ToDisk(data, size); });
    if (!writer.ok()) return writer.status();
    encrypting_ = *std::move(writer);
    return absl::OkStatus();
  }

  absl::Status Append(const void* data, size_t size) {
    if (encrypting_) return encrypting_->Append(data, size);
    return ToDisk(static_cast<const uint8_t*>(data), size);
  }

  // The last encrypted chunk; then the record is final.
  absl::Status Finish() { return encrypting_ ? encrypting_->Finish() : absl::OkStatus(); }

  FileRecord Record() const { return FileRecord{name_, written_, crc_}; }

 private:
  absl::Status ToDisk(const uint8_t* p, size_t size) {
    while (size > 0) {
      const size_t n = std::min(size, kChecksummedWriteChunkBytes);
      if (absl::Status s = out_.Append(p, n); !s.ok()) return s;
      crc_ = ExtendCrc32c(crc_, p, n);
      written_ += n;
      if (hook_) {
        if (absl::Status s = hook_(name_, written_); !s.ok()) return s;
      }
      p += n;
      size -= n;
    }
    return absl::OkStatus();
  }

  AtomicFileWriter& out_;
  std::string name_;
  const WriteProgressHook& hook_;
  std::unique_ptr<crypto::EncryptingWriter> encrypting_;
  uint32_t crc_ = 0;
  uint64_t written_ = 0;
};

}  // namespace

absl::StatusOr<FileRecord> WriteFileWithChecksum(const std::string& dir, const std::string& name,
                                                 absl::string_view contents, const WriteProgressHook& hook,
                                                 const FileEncryption* encryption) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out = AtomicFileWriter::Create(absl::StrCat(dir, "/", name));
  if (!out.ok()) return out.status();
  ChecksummedAppender appender(**out, name, hook);
  if (encryption != nullptr) {
    if (absl::Status s = appender.Encrypt(*encryption); !s.ok()) return s;
  }
  if (absl::Status s = appender.Append(contents.data(), contents.size()); !s.ok()) return s;
  if (absl::Status s = appender.Finish(); !s.ok()) return s;
  if (absl::Status s = (*out)->Commit(); !s.ok()) return s;
  return appender.Record();
}

absl::StatusOr<FileRecord> WriteSafetensorsWithChecksum(const std::string& dir, const std::string& name,
                                                        const std::vector<TensorToWrite>& tensors,
                                                        const std::map<std::string, std::string>& metadata,
                                                        const WriteProgressHook& hook,
                                                        const FileEncryption* encryption) {
  const std::string path = absl::StrCat(dir, "/", name);
  absl::StatusOr<std::string> header = BuildSafetensorsHeader(path, tensors, metadata);
  if (!header.ok()) return header.status();
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out = AtomicFileWriter::Create(path);
  if (!out.ok()) return out.status();
  ChecksummedAppender appender(**out, name, hook);
  if (encryption != nullptr) {
    if (absl::Status s = appender.Encrypt(*encryption); !s.ok()) return s;
  }
  const uint64_t header_size = header->size();  // little-endian on disk and host
  if (absl::Status s = appender.Append(&header_size, sizeof(header_size)); !s.ok()) return s;
  if (absl::Status s = appender.Append(header->data(), header->size()); !s.ok()) return s;
  // The header lists tensors by name with increasing offsets: write in that order.
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  for (const TensorToWrite* t : order) {
    if (absl::Status s = appender.Append(t->data, t->size_bytes); !s.ok()) return s;
  }
  if (absl::Status s = appender.Finish(); !s.ok()) return s;
  if (absl::Status s = (*out)->Commit(); !s.ok()) return s;
  return appender.Record();
}

absl::Status VerifyFile(const std::string& dir, const FileRecord& record) {
  const std::string path = absl::StrCat(dir, "/", record.name);
  absl::StatusOr<UniqueFd> opened = OpenUserFile(path);  // through the path policy
  if (!opened.ok()) return absl::Status(opened.status().code(), absl::StrCat("cannot open ", path, ": ", opened.status().message()));
  const int fd = opened->release();
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("cannot stat ", path));
  }
  if (static_cast<uint64_t>(st.st_size) != record.size_bytes) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat(path, ": size ", st.st_size, " bytes, the manifest says ",
                                            record.size_bytes, " (truncated or overwritten)"));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  uint32_t crc = 0;
  uint64_t total = 0;
  const absl::Status read = ReadChunks(fd, path, kChecksummedWriteChunkBytes, [&](const uint8_t* data, size_t n) {
    crc = ExtendCrc32c(crc, data, n);
    total += n;
  });
  ::close(fd);
  if (!read.ok()) return read;
  if (total != record.size_bytes) {
    return absl::DataLossError(absl::StrCat(path, ": read ", total, " bytes, the manifest says ", record.size_bytes));
  }
  if (crc != record.crc32c) {
    return absl::DataLossError(absl::StrCat(path, ": CRC32C ", Crc32cHex(crc), " does not match the manifest's ",
                                            Crc32cHex(record.crc32c), " (corrupted)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  absl::StatusOr<UniqueFd> opened = OpenUserFile(path);  // through the path policy
  if (!opened.ok()) return absl::Status(opened.status().code(), absl::StrCat("cannot open ", path, ": ", opened.status().message()));
  const int fd = opened->release();
  std::string contents;
  const absl::Status read = ReadChunks(fd, path, 65536, [&](const uint8_t* data, size_t n) {
    contents.append(reinterpret_cast<const char*>(data), n);
  });
  ::close(fd);
  if (!read.ok()) return read;
  return contents;
}

}  // namespace tunefleet
