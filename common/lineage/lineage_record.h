#pragma once
// A model's lineage as recorded: what made it (see lineage.h), its JSON form
// (in checkpoint manifests and an export's tunefleet_lineage.json) and the
// resume check. Torch-free, proto-free, no OpenSSL: the fuzzer links it.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet {

// The name of the lineage file in an export folder (a contract with the CLI).
inline constexpr char kLineageFileName[] = "tunefleet_lineage.json";

struct ContentHash {
  std::string role;  // "model", "dataset", "validation"
  std::string path;  // as the spec names it (a model folder's files: folder/name)
  uint64_t size_bytes = 0;
  std::string sha256;  // lowercase hex
};

struct Lineage {
  std::string tunefleet_version;
  std::string spec_sha256;          // of the effective spec as canonical JSON
  std::vector<ContentHash> inputs;  // model files (sorted), then the datasets
};

// OK when both read the same model and data (the spec may differ: a resumed
// attempt may run at another world size); otherwise FAILED_PRECONDITION
// naming the first input that changed, with both hashes.
absl::Status CheckSameInputs(const Lineage& recorded, const Lineage& now);

// indent -1: one line (a metrics event); otherwise pretty, for files.
std::string LineageToJson(const Lineage& lineage, int indent = 2);
// `source` names the file in errors (DATA_LOSS).
absl::StatusOr<Lineage> LineageFromJson(absl::string_view text, absl::string_view source);

}  // namespace tunefleet
