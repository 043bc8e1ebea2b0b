#pragma once
// Export of any committed checkpoint to a Hugging Face model directory.
// The checkpoint's model.safetensors already holds HF names in the model's
// dtype, so export is a verified copy plus config.json and the tokenizer
// files of the base model (through trainer/hf_io).

#include <string>

#include "absl/status/status.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet {

// Verifies the checkpoint's weights (size, CRC32C), copies them to
// `out_dir`/model.safetensors (atomically), writes `base_model_dir`'s
// config.json with torch_dtype set to the weights' dtype, and copies the
// tokenizer files. FAILED_PRECONDITION if the checkpoint has no weights.
// An encrypted checkpoint's weights are decrypted with `keys` on the way
// (the output is plaintext: encrypt it with WriteExport, encrypted_export.h).
absl::Status ExportCheckpointToHf(const CommittedCheckpoint& checkpoint, const std::string& base_model_dir,
                                  const std::string& out_dir, const crypto::KeyRing* keys = nullptr);

}  // namespace tunefleet
