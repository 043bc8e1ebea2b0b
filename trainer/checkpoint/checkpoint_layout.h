#pragma once
// Where a checkpoint's files live on the shared volume, in one place:
//
//   <root>/<job>/step-<8+ digits>/
//     model.safetensors                      full weights, HF names (one rank)
//     optim-rank-<r>-of-<N>.safetensors      rank r's flat range: master, exp_avg, exp_avg_sq
//     trainer-state-rank-<r>.json            step, data position, LR position, RNG of rank r
//     rank-<r>.files.json                    rank r's "done" record (sizes, checksums); not data
//     manifest.json                          written last; its presence commits the folder

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tunefleet {

inline constexpr char kManifestFileName[] = "manifest.json";
inline constexpr char kModelWeightsFileName[] = "model.safetensors";

// The job's checkpoints live under `root`/`job`.
struct CheckpointRoot {
  std::string root;  // the mounted shared volume (or a local directory)
  std::string job;   // the job's id; one folder per job

  std::string JobDirectory() const;
  std::string StepDirectory(int64_t step) const;
};

// "step-00000120". Zero-padded so `ls` sorts them; parsing accepts any width.
std::string StepDirectoryName(int64_t step);
// The step of a "step-<digits>" name; nullopt for anything else.
std::optional<int64_t> ParseStepDirectoryName(absl::string_view name);

std::string OptimizerShardFileName(int rank, int world_size);
std::string TrainerStateFileName(int rank);
std::string RankDoneFileName(int rank);

}  // namespace tunefleet
