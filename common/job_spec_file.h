#pragma once
// Reading a JobSpec from the YAML or JSON a user writes.

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// Parses a job spec from YAML (a superset of JSON) text. Field names follow
// the proto3 JSON mapping (snake_case or lowerCamelCase); enum values may be
// written in full ("FINE_TUNE_METHOD_LORA") or by their short name ("lora").
// Errors name the source, the line and the field.
absl::StatusOr<v1::JobSpec> ParseJobSpec(absl::string_view text,
                                         absl::string_view source_name = "<spec>");

// Reads and parses a spec file (.yaml, .yml or .json).
absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path);

// Applies "a.b.c=value" overrides (the CLI's --set) to a spec.
absl::Status ApplyJobSpecOverride(v1::JobSpec& spec, absl::string_view assignment);

// The spec as JSON, with every field the user set (for logs and `get -o json`).
std::string JobSpecToJson(const v1::JobSpec& spec);

}  // namespace tunefleet

namespace tunefleet {

// Makes the spec's relative paths (model, dataset, checkpoint and export
// directories) absolute against `base_dir`, the spec file's directory, so a
// spec can sit beside its data and still be submitted from anywhere.
void ResolveJobSpecPaths(v1::JobSpec& spec, const std::string& base_dir);

// The spec as `tunefleet submit` and `tunefleet-trainer train` both read it:
// the file, then each --set override (errors say which), then every relative
// path against the spec file's folder, whether the file or an override wrote
// it, so `--set dataset.path=x.jsonl` means what `dataset: {path: x.jsonl}`
// in the file means.
absl::StatusOr<v1::JobSpec> LoadJobSpecWithOverrides(const std::string& path,
                                                     const std::vector<std::string>& overrides);

}  // namespace tunefleet
