#include "worker/supervisor/trainer_launch.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/key_config.h"
#include "common/fs/path_policy.h"

namespace tunefleet::supervisor {

std::string AttemptDirectory(const std::string& work_dir, const std::string& job, int64_t attempt) {
  const size_t slash = job.rfind('/');
  const std::string id = slash == std::string::npos ? job : job.substr(slash + 1);
  return absl::StrCat(work_dir, "/jobs/", id, "/attempt-", attempt);
}

std::string MetricsPath(const std::string& attempt_dir, int32_t rank) {
  return absl::StrCat(attempt_dir, "/rank-", rank, ".metrics.jsonl");
}

std::vector<std::string> TrainerPathFlags(const TrainerPathPolicy& policy) {
  std::vector<std::string> flags;
  for (const std::string& root : policy.allowed_roots) flags.insert(flags.end(), {"--allowed-root", root});
  for (const std::string& path : policy.denied_paths) flags.insert(flags.end(), {"--denied-path", path});
  if (policy.allow_any_path) flags.push_back("--allow-any-path");  // last: a lone flag after the pairs
  return flags;
}

absl::StatusOr<TrainerPathPolicy> WorkerPathPolicy(TrainerPathPolicy given, const std::string& work_dir) {
  if (given.allowed_roots.empty()) given.allowed_roots.push_back(work_dir);
  for (std::string& root : given.allowed_roots) {
    root = std::filesystem::absolute(root).lexically_normal().string();
    if (root.size() > 1 && root.back() == '/') root.pop_back();
  }
  given.denied_paths.push_back(absl::StrCat(work_dir, "/jobs"));
  // Checked here, so a bad root stops the worker rather than failing every job.
  if (auto checked = PathPolicy::Confined(given.allowed_roots, given.denied_paths); !checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--allowed-root: ", checked.status().message()));
  }
  return given;
}

ProcessSpec TrainerProcess(const std::string& trainer, const v1::Assignment& assignment, int index,
                           const std::string& attempt_dir, const TrainerPathPolicy& paths,
                           const std::string& encryption_key_file) {
  const int32_t rank = assignment.ranks(index);
  ProcessSpec spec;
  spec.argv = {trainer, "train", "--spec", attempt_dir + "/spec.json", "--metrics-out",
               MetricsPath(attempt_dir, rank)};
  for (std::string& flag : TrainerPathFlags(paths)) spec.argv.push_back(std::move(flag));
  spec.log_path = absl::StrCat(attempt_dir, "/rank-", rank, ".log");
  spec.env = {{"TUNEFLEET_JOB", assignment.job()},
              {"TUNEFLEET_ATTEMPT", absl::StrCat(assignment.attempt())},
              {"TUNEFLEET_GENERATION", absl::StrCat(assignment.generation())}};
  if (!encryption_key_file.empty()) spec.env.emplace_back(crypto::kEncryptionKeyFileEnv, encryption_key_file);
  if (assignment.world_size() > 1) {
    // torchrun's variables: the trainer reads them as it reads torchrun's.
    spec.env.emplace_back("RANK", absl::StrCat(rank));
    spec.env.emplace_back("WORLD_SIZE", absl::StrCat(assignment.world_size()));
    spec.env.emplace_back("LOCAL_RANK", absl::StrCat(index));
    spec.env.emplace_back("MASTER_ADDR", assignment.rendezvous().host());
    spec.env.emplace_back("MASTER_PORT", absl::StrCat(assignment.rendezvous().port()));
    // In the environment, not argv: /proc/<pid>/cmdline is readable by every user.
    if (!assignment.rendezvous_secret().empty()) {
      spec.env.emplace_back("TUNEFLEET_RENDEZVOUS_SECRET", assignment.rendezvous_secret());
    }
  }
  if (index < assignment.devices_size() && assignment.devices(index).gpu_indices_size() > 0) {
    spec.env.emplace_back("CUDA_VISIBLE_DEVICES", absl::StrJoin(assignment.devices(index).gpu_indices(), ","));
    // The indices are NVML's (PCI bus order); CUDA's default order is fastest first.
    spec.env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
  }
  return spec;
}

}  // namespace tunefleet::supervisor
