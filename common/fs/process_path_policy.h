#pragma once
// The trainer's one path policy, installed by its main from the flags its
// worker gave it (--allowed-root, --allow-any-path) before any thread starts.
//
// Why process-wide rather than passed down: the files of a job are opened
// many layers below the run (a safetensors shard named by an index file, a
// tokenizer beside the weights, a checkpoint's rank files), by readers that
// take paths; one policy every reader consults confines all of them at
// once, and a reader added later cannot forget it. Until one is installed
// (tests, the tools run by hand) the unconfined policy applies: system
// trees and non-regular data are refused, nothing else.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fs/path_policy.h"

namespace tunefleet {

// Replaces the installed policy (a test may install and restore).
void InstallPathPolicy(std::shared_ptr<const PathPolicy> policy);
// The installed policy, or the unconfined one.
std::shared_ptr<const PathPolicy> InstalledPathPolicy();

// Through the installed policy, for readers that have a path and no field.
absl::StatusOr<UniqueFd> OpenUserFile(const std::string& path);
absl::StatusOr<UniqueFd> OpenUserDirectory(const std::string& path);
absl::StatusOr<UniqueFd> MakeUserDirectories(const std::string& path);
// A whole (small) file: config.json, tokenizer.json, an index.
absl::StatusOr<std::string> ReadUserFile(const std::string& path);

}  // namespace tunefleet
