#include "common/crypto/encryption_key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace tunefleet::crypto {
namespace {

// Fixed label whose MAC under the key is the key's public id. Changing it
// changes every id: it is part of the file format (version 1).
constexpr absl::string_view kKeyIdLabel = "tunefleet encryption key id v1";

// Key files are tiny; anything bigger is not a key file.
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

absl::StatusOr<std::string> DecodeKeyLine(absl::string_view line) {
  if (line.size() == 2 * kKeyBytes && std::all_of(line.begin(), line.end(), [](char c) {
        return absl::ascii_isxdigit(static_cast<unsigned char>(c));
      })) {
    return absl::HexStringToBytes(line);
  }
  std::string bytes;
  if (absl::Base64Unescape(line, &bytes) && bytes.size() == kKeyBytes) return bytes;
  return absl::InvalidArgumentError("");  // the caller says where
}

}  // namespace

std::string KeyIdHex(const KeyId& id) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
}

absl::StatusOr<EncryptionKey> EncryptionKey::FromBytes(absl::string_view bytes) {
  if (bytes.size() != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an encryption key is ", kKeyBytes, " bytes, not ", bytes.size()));
  }
  EncryptionKey key;
  std::memcpy(key.bytes_.data(), bytes.data(), kKeyBytes);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha256(), key.bytes_.data(), static_cast<int>(kKeyBytes),
           reinterpret_cast<const unsigned char*>(kKeyIdLabel.data()), kKeyIdLabel.size(), mac,
           &mac_size) == nullptr ||
      mac_size < kKeyIdBytes) {
    return absl::InternalError("HMAC-SHA256 failed computing a key id");
  }
  std::memcpy(key.id_.data(), mac, kKeyIdBytes);
  return key;
}

EncryptionKey::~EncryptionKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

absl::StatusOr<KeyRing> KeyRing::Create(std::vector<EncryptionKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("a key ring needs at least one key");
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (keys[i].id() == keys[j].id()) {
        return absl::InvalidArgumentError(absl::StrCat("key ", KeyIdHex(keys[i].id()), " is listed twice"));
      }
    }
  }
  return KeyRing(std::move(keys));
}

const EncryptionKey* KeyRing::Find(const KeyId& id) const {
  for (const EncryptionKey& key : keys_) {
    if (key.id() == id) return &key;
  }
  return nullptr;
}

std::string KeyRing::IdsHex() const {
  std::string out;
  for (const EncryptionKey& key : keys_) absl::StrAppend(&out, out.empty() ? "" : ", ", KeyIdHex(key.id()));
  return out;
}

absl::StatusOr<KeyRing> ParseKeyFile(absl::string_view contents, const std::string& path) {
  std::vector<EncryptionKey> keys;
  // Exactly 32 bytes of binary: `openssl rand 32 > key`. 32 printable
  // characters are text (e.g. `openssl rand -hex 16` without its newline: a
  // 16-byte key) and are refused below rather than taken as a weak key;
  // random bytes are all printable with probability (95/256)^32 ~ 1e-14.
  const bool binary = std::any_of(contents.begin(), contents.end(), [](char c) {
    return !absl::ascii_isprint(static_cast<unsigned char>(c)) &&
           !absl::ascii_isspace(static_cast<unsigned char>(c));
  });
  if (contents.size() == kKeyBytes && binary) {
    absl::StatusOr<EncryptionKey> key = EncryptionKey::FromBytes(contents);
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
    return KeyRing::Create(std::move(keys));
  }
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<std::string> bytes = DecodeKeyLine(line);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line ", line_number,
                       " is not a key (64 hex digits or base64 of 32 bytes; e.g. openssl rand -hex 32)"));
    }
    absl::StatusOr<EncryptionKey> key = EncryptionKey::FromBytes(*bytes);
    OPENSSL_cleanse(bytes->data(), bytes->size());
    if (!key.ok()) return key.status();
    keys.push_back(*std::move(key));
  }
  if (keys.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": holds no key"));
  absl::StatusOr<KeyRing> ring = KeyRing::Create(std::move(keys));
  if (!ring.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", ring.status().message()));
  return ring;
}

absl::StatusOr<KeyRing> LoadKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open the encryption key file ", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("the encryption key file ", path, " is not a regular file"));
  }
  // Others must not read it; nobody but the owner may replace it.
  if ((st.st_mode & 0027) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(
        absl::StrFormat("the encryption key file %s has mode %04o: others may read it or its group may write "
                        "it (chmod 0400 or 0600; a Kubernetes Secret: defaultMode 0400, or 0440 with the pod's "
                        "fsGroup)",
                        path, st.st_mode & 07777));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("the encryption key file ", path, " is ", st.st_size, " bytes: not a key file"));
  }
  std::string contents(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < contents.size()) {
    const ssize_t n = ::read(fd, contents.data() + got, contents.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  contents.resize(got);
  absl::StatusOr<KeyRing> ring = ParseKeyFile(contents, path);
  OPENSSL_cleanse(contents.data(), contents.size());
  return ring;
}

}  // namespace tunefleet::crypto
