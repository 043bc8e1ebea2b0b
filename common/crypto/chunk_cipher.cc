#include "common/crypto/chunk_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>

#include "common/crypto/encrypted_file_format.h"

namespace tunefleet::crypto {

absl::StatusOr<std::unique_ptr<ChunkCipher>> ChunkCipher::Create(absl::string_view file_key,
                                                                 std::string aad) {
  if (file_key.size() != kKeyBytes) return absl::InternalError("a file key is 32 bytes");
  std::unique_ptr<ChunkCipher> cipher(new ChunkCipher());
  cipher->key_ = std::string(file_key);
  cipher->aad_ = std::move(aad);
  cipher->ctx_ = EVP_CIPHER_CTX_new();
  if (cipher->ctx_ == nullptr) return absl::ResourceExhaustedError("EVP_CIPHER_CTX_new failed");
  return cipher;
}

ChunkCipher::~ChunkCipher() {
  EVP_CIPHER_CTX_free(ctx_);
  OPENSSL_cleanse(key_.data(), key_.size());
}

absl::Status ChunkCipher::Seal(uint64_t index, bool last, const uint8_t* plain, size_t size, uint8_t* out) {
  const std::string nonce = ChunkNonce(index, last);
  const auto* key = reinterpret_cast<const unsigned char*>(key_.data());
  const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  int n = 0;
  if (size > static_cast<size_t>(INT_MAX) || aad_.size() > static_cast<size_t>(INT_MAX) ||
      EVP_EncryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, key, iv) != 1 ||
      EVP_EncryptUpdate(ctx_, nullptr, &n, reinterpret_cast<const unsigned char*>(aad_.data()),
                        static_cast<int>(aad_.size())) != 1 ||
      EVP_EncryptUpdate(ctx_, out, &n, plain, static_cast<int>(size)) != 1 ||
      EVP_EncryptFinal_ex(ctx_, out + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), out + size) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return absl::OkStatus();
}

bool ChunkCipher::Open(uint64_t index, bool last, const uint8_t* sealed, size_t size, uint8_t* out) {
  if (size < kTagBytes || size - kTagBytes > static_cast<size_t>(INT_MAX)) return false;
  const size_t text = size - kTagBytes;
  const std::string nonce = ChunkNonce(index, last);
  const auto* key = reinterpret_cast<const unsigned char*>(key_.data());
  const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  // The tag is only read, but OpenSSL's ctrl takes a non-const pointer.
  unsigned char tag[kTagBytes];
  for (size_t i = 0; i < kTagBytes; ++i) tag[i] = sealed[text + i];
  int n = 0;
  return EVP_DecryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, key, iv) == 1 &&
         EVP_DecryptUpdate(ctx_, nullptr, &n, reinterpret_cast<const unsigned char*>(aad_.data()),
                           static_cast<int>(aad_.size())) == 1 &&
         EVP_DecryptUpdate(ctx_, out, &n, sealed, static_cast<int>(text)) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag) == 1 &&
         EVP_DecryptFinal_ex(ctx_, out + n, &n) == 1;
}

}  // namespace tunefleet::crypto
