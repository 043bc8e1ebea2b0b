#include "coordinator/checkpoints/checkpoint_listing.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "trainer/checkpoint/discovery.h"

namespace tunefleet::coordinator {

// The checkpoint format is the trainer's (trainer/checkpoint/, torch-free
// core): the same discovery, manifest parser and checksum the trainer resumes
// with, so a checkpoint listed here is one the trainer would accept.
absl::StatusOr<std::vector<v1::Checkpoint>> ListCommittedCheckpoints(const std::string& directory,
                                                                     const std::string& job_name) {
  const CheckpointRoot root{directory, job_name.substr(job_name.rfind('/') + 1)};
  auto committed = ::tunefleet::ListCommittedCheckpoints(
      root, [&root](const std::string& message) { Log("coordinator", absl::StrCat(root.job, ": ", message)); });
  if (!committed.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot list ", root.JobDirectory(), ": ", committed.status().message()));
  }
  std::vector<v1::Checkpoint> out;  // newest first, as discovery lists them
  for (const CommittedCheckpoint& found : *committed) {
    v1::Checkpoint checkpoint;
    checkpoint.set_name(absl::StrCat(job_name, "/checkpoints/", found.step));
    checkpoint.set_step(found.step);
    checkpoint.set_path(found.dir);
    checkpoint.set_world_size(found.manifest.world_size);
    if (found.manifest.loss) checkpoint.set_train_loss(*found.manifest.loss);
    int64_t bytes = 0;
    for (const FileRecord& file : found.manifest.files) bytes += static_cast<int64_t>(file.size_bytes);
    checkpoint.set_size_bytes(bytes);
    *checkpoint.mutable_commit_time() = ToProtoTime(absl::FromUnixMillis(found.manifest.created_unix_ms));
    out.push_back(std::move(checkpoint));
  }
  return out;
}

}  // namespace tunefleet::coordinator
