#include "common/crypto/key_config.h"

#include <cstdlib>

namespace tunefleet::crypto {

std::string ConfiguredKeyFile(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv(kEncryptionKeyFileEnv);
  return env != nullptr ? env : "";
}

absl::StatusOr<std::shared_ptr<const KeyRing>> LoadConfiguredKeyRing(const std::string& flag) {
  const std::string path = ConfiguredKeyFile(flag);
  if (path.empty()) return std::shared_ptr<const KeyRing>();
  absl::StatusOr<KeyRing> ring = LoadKeyFile(path);
  if (!ring.ok()) return ring.status();
  return std::make_shared<const KeyRing>(*std::move(ring));
}

}  // namespace tunefleet::crypto
