#pragma once
// AES-256-GCM of one chunk under a file key (encrypted_file_format.h says
// how the key, nonce and AAD are made). One OpenSSL context reused for
// every chunk of a file.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace tunefleet::crypto {

class ChunkCipher {
 public:
  // `file_key` is 32 bytes; `aad` is the file's header.
  static absl::StatusOr<std::unique_ptr<ChunkCipher>> Create(absl::string_view file_key, std::string aad);
  ~ChunkCipher();
  ChunkCipher(const ChunkCipher&) = delete;
  ChunkCipher& operator=(const ChunkCipher&) = delete;

  // Writes size + kTagBytes bytes (ciphertext, then tag) to `out`.
  absl::Status Seal(uint64_t index, bool last, const uint8_t* plain, size_t size, uint8_t* out);

  // `sealed` is ciphertext then tag (size >= kTagBytes); writes
  // size - kTagBytes plaintext bytes to `out`. false when the tag does not
  // match (the only way a damaged, moved or reordered chunk shows).
  bool Open(uint64_t index, bool last, const uint8_t* sealed, size_t size, uint8_t* out);

 private:
  ChunkCipher() = default;
  std::string key_;
  std::string aad_;
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

}  // namespace tunefleet::crypto
