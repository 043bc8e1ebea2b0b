#pragma once
// AES-256 keys for encryption at rest, and the key ring a process holds:
// the first key encrypts new files, every key decrypts (rotation: put the
// new key first, keep the old ones until no file needs them). A key's id
// is a fingerprint (HMAC-SHA256 of a fixed label under the key, first 8
// bytes) written in every file's header, so "wrong key" is told apart
// from "tampered" without revealing anything about the key. Keys are
// never logged or put in a Status; only their ids are.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet::crypto {

inline constexpr size_t kKeyBytes = 32;   // AES-256
inline constexpr size_t kKeyIdBytes = 8;  // enough to tell a handful of keys apart

using KeyId = std::array<uint8_t, kKeyIdBytes>;
std::string KeyIdHex(const KeyId& id);

class EncryptionKey {
 public:
  // INVALID_ARGUMENT unless exactly kKeyBytes bytes.
  static absl::StatusOr<EncryptionKey> FromBytes(absl::string_view bytes);

  EncryptionKey(const EncryptionKey&) = default;
  EncryptionKey& operator=(const EncryptionKey&) = default;
  ~EncryptionKey();  // wipes the key bytes

  const std::array<uint8_t, kKeyBytes>& bytes() const { return bytes_; }
  const KeyId& id() const { return id_; }

 private:
  EncryptionKey() = default;
  std::array<uint8_t, kKeyBytes> bytes_{};
  KeyId id_{};
};

class KeyRing {
 public:
  // INVALID_ARGUMENT when empty or when two keys share an id.
  static absl::StatusOr<KeyRing> Create(std::vector<EncryptionKey> keys);

  const EncryptionKey& current() const { return keys_.front(); }  // encrypts
  const EncryptionKey* Find(const KeyId& id) const;               // nullptr: not held
  std::string IdsHex() const;                                     // "a1b2..., c3d4..." for error messages
  size_t size() const { return keys_.size(); }

 private:
  explicit KeyRing(std::vector<EncryptionKey> keys) : keys_(std::move(keys)) {}
  std::vector<EncryptionKey> keys_;
};

// A key file holds one key per line, each 64 hex digits or base64 of 32
// bytes (the output of `openssl rand -hex 32` / `openssl rand -base64 32`);
// or exactly 32 raw bytes (`openssl rand 32`), one key. Blank lines and
// lines starting with '#' are skipped. Errors say the line, never its text.
absl::StatusOr<KeyRing> ParseKeyFile(absl::string_view contents, const std::string& path);

// Reads and parses `path`. It must be a regular file (a Kubernetes Secret
// mount's symlink to one is followed) that others cannot read or anyone
// but its owner write (0400/0600; 0440 as a Secret mounted with an
// fsGroup gives): PERMISSION_DENIED naming the path and its mode otherwise.
absl::StatusOr<KeyRing> LoadKeyFile(const std::string& path);

}  // namespace tunefleet::crypto
