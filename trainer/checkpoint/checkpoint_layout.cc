#include "trainer/checkpoint/checkpoint_layout.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tunefleet {
namespace {

std::string Padded(int64_t value, int width) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%0*lld", width, static_cast<long long>(value));
  return buf;
}

}  // namespace

std::string CheckpointRoot::JobDirectory() const { return absl::StrCat(root, "/", job); }

std::string CheckpointRoot::StepDirectory(int64_t step) const {
  return absl::StrCat(JobDirectory(), "/", StepDirectoryName(step));
}

std::string StepDirectoryName(int64_t step) { return absl::StrCat("step-", Padded(step, 8)); }

std::optional<int64_t> ParseStepDirectoryName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "step-") || name.empty()) return std::nullopt;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int64_t step = 0;
  if (!absl::SimpleAtoi(name, &step)) return std::nullopt;
  return step;
}

std::string OptimizerShardFileName(int rank, int world_size) {
  return absl::StrCat("optim-rank-", Padded(rank, 5), "-of-", Padded(world_size, 5), ".safetensors");
}

std::string TrainerStateFileName(int rank) { return absl::StrCat("trainer-state-rank-", Padded(rank, 5), ".json"); }

std::string RankDoneFileName(int rank) { return absl::StrCat("rank-", Padded(rank, 5), ".files.json"); }

}  // namespace tunefleet
