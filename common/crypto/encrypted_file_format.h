#pragma once
// The on-disk format of a file encrypted at rest (version 1). Everything
// about the layout is here, once; encrypted_writer.h and
// encrypted_reader.h stream it.
//
//   offset  size  field
//   0       8     magic "TFCRYPT\n"
//   8       2     format version, little-endian (1)
//   10      1     algorithm (1: AES-256-GCM, per-file key by HKDF-SHA256)
//   11      1     log2 of the plaintext chunk size (16..26; writers use 20: 1 MiB)
//   12      8     key id (EncryptionKey::id(): which key, not the key)
//   20      32    salt, random per file (getrandom via OpenSSL's RAND_bytes)
//   52      2     context length L, little-endian (<= 1024)
//   54      L     context: what the file is (e.g. "<save_id>/model.safetensors"),
//                 so a file moved to another name or save does not decrypt as it
//   54+L    ...   chunks: ciphertext of chunk i (the chunk size, or 0..chunk size
//                 bytes for the last) followed by its 16-byte GCM tag
//
// file key = HKDF-SHA256(ikm = key, salt = salt, info = "tunefleet-encrypted-file v1")
// nonce(i) = i as 8 bytes big-endian || 00 00 00 || last (01 for the last chunk, else 00)
// AAD      = the header, bytes [0, 54+L)
//
// A fresh key per file means nonces never repeat under one key whatever
// the number of files (no 2^32-messages bound to watch). The chunk index
// in the nonce detects reordered or duplicated chunks; the last flag
// detects a file cut at a chunk boundary (STREAM, as in age); the header
// as AAD detects any change to it. Only the last chunk may be short, and
// it is empty only when the whole plaintext is.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/encryption_key.h"

namespace tunefleet::crypto {

inline constexpr absl::string_view kEncryptedFileMagic = "TFCRYPT\n";
inline constexpr uint16_t kEncryptedFileVersion = 1;
inline constexpr uint8_t kAlgorithmAes256GcmHkdf = 1;
inline constexpr size_t kSaltBytes = 32;
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kNonceBytes = 12;
inline constexpr size_t kFixedHeaderBytes = 54;
inline constexpr size_t kMaxContextBytes = 1024;
inline constexpr uint8_t kMinChunkLog2 = 16;
inline constexpr uint8_t kMaxChunkLog2 = 26;
inline constexpr uint8_t kDefaultChunkLog2 = 20;
inline constexpr absl::string_view kFileKeyInfo = "tunefleet-encrypted-file v1";

struct EncryptedFileHeader {
  uint8_t chunk_log2 = kDefaultChunkLog2;
  KeyId key_id{};
  std::string salt;  // kSaltBytes
  std::string context;

  size_t chunk_size() const { return size_t{1} << chunk_log2; }
  std::string Serialize() const;
};

// True when `prefix` (a file's first bytes) starts with the magic.
bool HasEncryptedFileMagic(absl::string_view prefix);

// The fixed part's context length, from its first kFixedHeaderBytes bytes,
// after checking magic, version, algorithm and chunk size. DATA_LOSS naming
// `path` for anything off (a damaged header), UNIMPLEMENTED for a newer
// version.
absl::StatusOr<size_t> ParseFixedHeader(absl::string_view fixed, const std::string& path,
                                        EncryptedFileHeader* header);

// The per-file AES key (HKDF-SHA256); INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> DeriveFileKey(const EncryptionKey& key, absl::string_view salt);

// nonce(i) as above.
std::string ChunkNonce(uint64_t index, bool last);

}  // namespace tunefleet::crypto
