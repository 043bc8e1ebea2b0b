#pragma once
// Checkpoint files written atomically (AtomicFileWriter: .tmp, fsync,
// rename, directory fsync) with their CRC32C computed on the way out, so a
// save never reads its own bytes back; and verified against their record
// before a load trusts them.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/manifest.h"
#include "trainer/safetensors/safetensors_writer.h"

namespace tunefleet {

// Called after each chunk (at most kChecksummedWriteChunkBytes) reaches the
// .tmp file, with the file's name and the bytes written so far. A non-OK
// return aborts that file's write with that error (the .tmp is removed).
// For fault injection and the kill-mid-save test; null in production.
using WriteProgressHook = std::function<absl::Status(const std::string& name, uint64_t bytes_written)>;

inline constexpr size_t kChecksummedWriteChunkBytes = size_t{8} << 20;

// Encrypts a file as it is written (common/crypto; encrypted_files.h has
// the rule). The record's size and CRC32C are of the bytes on disk, the
// ciphertext, so verification needs no key.
struct FileEncryption {
  const crypto::EncryptionKey* key = nullptr;
  std::string context;  // CheckpointFileContext(...)
};

// Writes `dir`/`name` atomically; returns its size and CRC32C. Encrypted
// when `encryption` is given.
absl::StatusOr<FileRecord> WriteFileWithChecksum(const std::string& dir, const std::string& name,
                                                 absl::string_view contents, const WriteProgressHook& hook = {},
                                                 const FileEncryption* encryption = nullptr);

// The same bytes WriteSafetensors would write (its header builder, tensors
// in name order), streamed through the checksum.
absl::StatusOr<FileRecord> WriteSafetensorsWithChecksum(const std::string& dir, const std::string& name,
                                                        const std::vector<TensorToWrite>& tensors,
                                                        const std::map<std::string, std::string>& metadata,
                                                        const WriteProgressHook& hook = {},
                                                        const FileEncryption* encryption = nullptr);

// DATA_LOSS naming the file when its size or CRC32C differs from `record`
// (a truncated file shows as a size mismatch, a flipped bit as a CRC one);
// NOT_FOUND etc. from the OS.
absl::Status VerifyFile(const std::string& dir, const FileRecord& record);

// A whole (small) file: JSON records and states.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace tunefleet
