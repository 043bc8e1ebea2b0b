#pragma once
// Where a process finds its encryption key ring. The key never travels in
// a job spec or on a command line: the worker is given a key file (a
// mounted Kubernetes Secret) and hands its path to every trainer in the
// environment variable named here, once for both sides.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/encryption_key.h"

namespace tunefleet::crypto {

// Set by the worker on each trainer it starts: the path of its key file.
inline constexpr char kEncryptionKeyFileEnv[] = "TUNEFLEET_ENCRYPTION_KEY_FILE";

// The key file path in effect: `flag` when set, else $TUNEFLEET_ENCRYPTION_KEY_FILE,
// else empty (no encryption).
std::string ConfiguredKeyFile(const std::string& flag);

// Loads that key file's ring; null when none is configured; the key
// file's errors (mode, format) otherwise.
absl::StatusOr<std::shared_ptr<const KeyRing>> LoadConfiguredKeyRing(const std::string& flag);

}  // namespace tunefleet::crypto
