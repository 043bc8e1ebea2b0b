#pragma once
// Exports encrypted at rest, and the way back for other tools: encrypted
// safetensors cannot be loaded by transformers, so `tunefleet-trainer
// decrypt` turns an encrypted export (or checkpoint folder) into plaintext
// where the operator chooses.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/crypto/encryption_key.h"

namespace tunefleet {

// Runs `write(dir)`, the usual export writer, and leaves its files in
// `out_dir`. With `keys`, `write` writes into a fresh private (0700)
// staging folder under $TMPDIR (node-local, never the shared volume), and
// every file it wrote is then encrypted into `out_dir` under the same
// relative name (context: that name), each atomically; the staging folder
// is removed whatever happens. Without `keys`, `write(out_dir)`.
absl::Status WriteExport(const std::string& out_dir, const crypto::KeyRing* keys,
                         const std::function<absl::Status(const std::string& dir)>& write);

struct DecryptedFile {
  std::string relative_path;
  bool was_encrypted = false;
  std::string context;  // the encrypted file's context, when it was encrypted
};

// Every regular file under `in_dir` to the same relative path under
// `out_dir` (created): decrypted when encrypted (each chunk authenticated;
// its context must be the relative path, or end with "/<relative path>"
// for a checkpoint file), copied otherwise. Each output appears only once
// complete; the first error (naming the file) stops it.
// `report` is told about each file done.
absl::Status DecryptDirectory(const std::string& in_dir, const std::string& out_dir,
                              const crypto::KeyRing& keys,
                              const std::function<void(const DecryptedFile&)>& report = {});

}  // namespace tunefleet
