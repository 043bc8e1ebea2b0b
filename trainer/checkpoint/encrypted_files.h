#pragma once
// Checkpoint and export files encrypted at rest (common/crypto): what a
// reader accepts, and the plaintext of a file whatever its form.
//
// The rule, the same for every reader: with no key ring a plaintext file
// reads as it is and an encrypted one is FAILED_PRECONDITION ("encrypted
// with key K, no key configured"); with a key ring an encrypted file is
// decrypted (FAILED_PRECONDITION for a key not in the ring, DATA_LOSS for
// any damage) and a plaintext file is DATA_LOSS: whoever can write the
// storage could otherwise plant their own weights or state.
//
// Checksums (manifest CRC32C) stay over the bytes on disk, ciphertext
// included, so discovery, retention and verification need no key and still
// tell a torn write from tampering.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/encryption_key.h"

namespace tunefleet {

// What a checkpoint file's encryption context is: the save and the file's
// name, so a file copied from another save or renamed does not decrypt as
// this one. Exports use the file's path relative to the export directory.
std::string CheckpointFileContext(const std::string& save_id, const std::string& name);

// The whole plaintext of `path` (small files: trainer state JSON).
absl::StatusOr<std::string> ReadPlaintextFile(const std::string& path, const crypto::KeyRing* keys,
                                              const std::string& context);

// A read-only descriptor whose bytes are the plaintext of `path`: the file
// itself when it is plaintext (and allowed), else an anonymous in-memory
// file (memfd) holding the decrypted bytes, so SafetensorsFile can map it
// as usual and no plaintext reaches the disk. Returned only once every
// chunk authenticated. The caller closes it.
absl::StatusOr<int> OpenPlaintext(const std::string& path, const crypto::KeyRing* keys,
                                  const std::string& context);

// OK when `path`'s form is acceptable under the rule above (no decryption).
absl::Status CheckEncryptionForm(const std::string& path, const crypto::KeyRing* keys);

// "/proc/self/fd/<fd>": how to open a descriptor by path (SafetensorsFile::Open).
std::string FdPath(int fd);

}  // namespace tunefleet
