#include "trainer/tools/decrypt_command.h"

#include <cstdio>

#include "common/crypto/key_config.h"
#include "trainer/checkpoint/encrypted_export.h"

namespace tunefleet {

void AddDecryptOptions(CLI::App& command, DecryptCommandOptions& options) {
  command.add_option(
      "--key-file", options.key_file,
      "The key file (one key per line, hex or base64; default: $TUNEFLEET_ENCRYPTION_KEY_FILE)");
  command.add_option("--in", options.in, "An encrypted export or checkpoint step folder")->required();
  command.add_option("--out", options.out, "Where the plaintext goes (created; files are replaced)")
      ->required();
}

absl::Status RunDecrypt(const DecryptCommandOptions& options) {
  auto keys = crypto::LoadConfiguredKeyRing(options.key_file);
  if (!keys.ok()) return keys.status();
  if (*keys == nullptr) {
    return absl::InvalidArgumentError("decrypt: no key file (--key-file or $TUNEFLEET_ENCRYPTION_KEY_FILE)");
  }
  int decrypted = 0, copied = 0;
  const absl::Status s = DecryptDirectory(options.in, options.out, **keys, [&](const DecryptedFile& file) {
    ++(file.was_encrypted ? decrypted : copied);
    std::printf("%s %s\n", file.was_encrypted ? "decrypted" : "copied   ", file.relative_path.c_str());
  });
  if (!s.ok()) return s;
  std::printf("decrypted %d file(s), copied %d plaintext file(s) to %s\n", decrypted, copied,
              options.out.c_str());
  return absl::OkStatus();
}

}  // namespace tunefleet
