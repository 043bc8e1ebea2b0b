#pragma once
// Encrypts a byte stream into the encrypted file format
// (encrypted_file_format.h) chunk by chunk, handing the bytes to a sink
// (the atomic file writer, through the checksum), so a shard of any size
// streams through one chunk of memory.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/chunk_cipher.h"
#include "common/crypto/encrypted_file_format.h"
#include "common/crypto/encryption_key.h"

namespace tunefleet::crypto {

// Receives the encrypted file's bytes in order; a non-OK return stops the write.
using EncryptedSink = std::function<absl::Status(const uint8_t* data, size_t size)>;

class EncryptingWriter {
 public:
  // Draws a random salt (getrandom) and writes the header to `sink`.
  // `context` says what the file is (see encrypted_file_format.h).
  static absl::StatusOr<std::unique_ptr<EncryptingWriter>> Create(const EncryptionKey& key,
                                                                  absl::string_view context,
                                                                  EncryptedSink sink,
                                                                  uint8_t chunk_log2 = kDefaultChunkLog2);

  // Plaintext; a chunk is sealed once it is full and more bytes follow
  // (the last one is sealed by Finish, flagged last).
  absl::Status Append(const void* data, size_t size);
  // Seals the last chunk. Once; no Append after.
  absl::Status Finish();

  // Bytes handed to the sink so far (header, ciphertext, tags).
  uint64_t encrypted_bytes() const { return encrypted_bytes_; }

 private:
  EncryptingWriter() = default;
  absl::Status SealBuffered(bool last);
  absl::Status Emit(const uint8_t* data, size_t size);

  std::unique_ptr<ChunkCipher> cipher_;
  EncryptedSink sink_;
  size_t chunk_size_ = 0;
  std::vector<uint8_t> plain_;   // the chunk being filled
  std::vector<uint8_t> sealed_;  // chunk_size_ + tag
  uint64_t next_index_ = 0;
  uint64_t encrypted_bytes_ = 0;
  bool finished_ = false;
};

// Sealed size of `plain_bytes` of plaintext with the given context, for
// sizing and tests.
uint64_t EncryptedFileSize(uint64_t plain_bytes, size_t context_bytes,
                           uint8_t chunk_log2 = kDefaultChunkLog2);

// Random bytes from the kernel's CSPRNG (getrandom).
std::string OsRandomBytes(size_t size);

}  // namespace tunefleet::crypto
