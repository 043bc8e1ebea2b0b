#pragma once
// `tunefleet-trainer decrypt`: an encrypted export (or checkpoint folder)
// back to plaintext for tools that cannot read the encrypted format
// (transformers, llama.cpp, safetensors itself). Every chunk is
// authenticated; a wrong key or a tampered file stops it, naming the file.

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/status.h"

namespace tunefleet {

struct DecryptCommandOptions {
  std::string key_file;  // empty: $TUNEFLEET_ENCRYPTION_KEY_FILE
  std::string in;
  std::string out;
};

void AddDecryptOptions(CLI::App& command, DecryptCommandOptions& options);
absl::Status RunDecrypt(const DecryptCommandOptions& options);

}  // namespace tunefleet
