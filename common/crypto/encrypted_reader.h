#pragma once
// Reads files in the encrypted file format (encrypted_file_format.h),
// chunk by chunk. Every error names the file and says which failure it is:
//   FAILED_PRECONDITION  encrypted under a key this process does not hold
//                        (wrong key; the message gives both key ids), or
//                        encrypted while no key is configured
//   DATA_LOSS            header damaged, file truncated, a chunk that does
//                        not authenticate (a changed byte anywhere, chunks
//                        reordered or dropped), or a file written as
//                        another one (its context differs)
//   UNIMPLEMENTED        a newer format version
// Plaintext reaches `consume` chunk by chunk before the last chunk is
// checked: a caller must throw away what it got when the call fails.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/encryption_key.h"

namespace tunefleet::crypto {

using PlaintextSink = std::function<absl::Status(const uint8_t* data, size_t size)>;

struct DecryptOptions {
  // When set, the file's context must equal it (a file moved or swapped
  // for another shows as DATA_LOSS); nullopt accepts any (the decrypt tool).
  std::optional<std::string> expected_context;

  static DecryptOptions ExpectContext(std::string context) {
    DecryptOptions options;
    options.expected_context = std::move(context);
    return options;
  }
};

// Decrypts the open descriptor `fd` (read from its current offset to its
// end; `path` is for messages). Returns the file's context.
absl::StatusOr<std::string> DecryptFd(int fd, const std::string& path, const KeyRing& keys,
                                      const PlaintextSink& consume, const DecryptOptions& options = {});

// Opens `path` and decrypts it.
absl::StatusOr<std::string> DecryptFile(const std::string& path, const KeyRing& keys,
                                        const PlaintextSink& consume, const DecryptOptions& options = {});

// The whole plaintext of a small file (JSON states).
absl::StatusOr<std::string> DecryptFileToString(const std::string& path, const KeyRing& keys,
                                                const DecryptOptions& options = {});

// Whether `path` starts with the encrypted file magic; errors from the OS.
absl::StatusOr<bool> IsEncryptedFile(const std::string& path);

// The key id in an encrypted file's header, for "no key configured" messages.
absl::StatusOr<std::string> EncryptedFileKeyIdHex(const std::string& path);

}  // namespace tunefleet::crypto
