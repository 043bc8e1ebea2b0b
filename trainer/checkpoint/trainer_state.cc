#include "trainer/checkpoint/trainer_state.h"

#include <exception>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json_integer.h"

namespace tunefleet {

using json = nlohmann::json;

std::string TrainerStateToJson(const TrainerState& state) {
  // RNG states are binary; base64 keeps the JSON valid UTF-8.
  json rng = json::object();
  for (const auto& [name, bytes] : state.rng_states) rng[name] = absl::Base64Escape(bytes);
  const json j = {{"step", state.step},
                  {"epoch", state.epoch},
                  {"step_in_epoch", state.step_in_epoch},
                  {"lr_schedule_step", state.lr_schedule_step},
                  {"world_size", state.world_size},
                  {"rank", state.rank},
                  {"zero_stage", state.zero_stage},
                  {"flat_numel", state.flat_numel},
                  {"flat_padded_numel", state.flat_padded_numel},
                  {"rng_states_base64", rng},
                  {"extra", state.extra}};
  return j.dump(2);
}

absl::StatusOr<TrainerState> TrainerStateFromJson(absl::string_view text, absl::string_view path) {
  try {
    const json j = json::parse(text);
    TrainerState s;
    s.step = JsonIntegerAt<int64_t>(j, "step");
    s.epoch = JsonIntegerAt<int64_t>(j, "epoch");
    s.step_in_epoch = JsonIntegerAt<int64_t>(j, "step_in_epoch");
    s.lr_schedule_step = JsonIntegerAt<int64_t>(j, "lr_schedule_step");
    s.world_size = JsonIntegerAt<int>(j, "world_size");
    s.rank = JsonIntegerAt<int>(j, "rank");
    s.zero_stage = JsonIntegerAt<int>(j, "zero_stage");
    s.flat_numel = JsonIntegerAt<int64_t>(j, "flat_numel");
    s.flat_padded_numel = JsonIntegerAt<int64_t>(j, "flat_padded_numel");
    for (const auto& [name, encoded] : j.at("rng_states_base64").items()) {
      std::string bytes;
      if (!absl::Base64Unescape(encoded.get<std::string>(), &bytes)) {
        return absl::DataLossError(absl::StrCat(path, ": RNG state '", name, "' is not valid base64"));
      }
      s.rng_states[name] = std::move(bytes);
    }
    s.extra = j.at("extra").get<std::map<std::string, std::string>>();
    return s;
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": cannot parse trainer state: ", e.what()));
  }
}

}  // namespace tunefleet
