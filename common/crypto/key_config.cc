#include "common/crypto/key_config.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace tunefleet::crypto {

std::string ConfiguredKeyFile(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv(kEncryptionKeyFileEnv);
  return env != nullptr ? env : "";
}

absl::StatusOr<std::shared_ptr<const KeyRing>> LoadConfiguredKeyRing(const std::string& flag, bool required) {
  const std::string path = ConfiguredKeyFile(flag);
  if (path.empty()) {
    if (required) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint.require_encryption is set but no encryption key is configured (the worker's "
          "--encryption-key-file, or --encryption-key-file / $",
          kEncryptionKeyFileEnv, " for a trainer started by hand)"));
    }
    return std::shared_ptr<const KeyRing>();
  }
  absl::StatusOr<KeyRing> ring = LoadKeyFile(path);
  if (!ring.ok()) return ring.status();
  return std::make_shared<const KeyRing>(*std::move(ring));
}

}  // namespace tunefleet::crypto
