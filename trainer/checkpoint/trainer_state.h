#pragma once
// Everything besides tensors that a rank needs to continue exactly where it
// stopped: progress counters, the data position, the LR schedule position
// and every random generator's state (opaque bytes, base64 in the JSON).

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet {

struct TrainerState {
  int64_t step = 0;              // optimizer steps completed; the checkpoint's step
  int64_t epoch = 0;             // the epoch the next batch comes from
  int64_t step_in_epoch = 0;     // batches of `epoch` already consumed (the data position)
  int64_t lr_schedule_step = 0;  // the LrSchedule::At argument of the next update
  int world_size = 1;
  int rank = 0;                  // whose RNG states these are
  int zero_stage = 0;
  int64_t flat_numel = 0;         // real elements of the flat parameter buffer
  int64_t flat_padded_numel = 0;  // with the padding for `world_size`
  // Generator name -> its raw state bytes, e.g. "torch_cpu" (see rng_state.h),
  // "torch_cuda", "data_shuffle". Opaque to the checkpoint.
  std::map<std::string, std::string> rng_states;
  // Small extra values the loop wants back verbatim (e.g. a data seed).
  std::map<std::string, std::string> extra;
};

std::string TrainerStateToJson(const TrainerState& state);
// DATA_LOSS naming `path` for malformed JSON or base64.
absl::StatusOr<TrainerState> TrainerStateFromJson(absl::string_view text, absl::string_view path);

}  // namespace tunefleet
