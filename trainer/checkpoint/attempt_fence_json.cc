#include "trainer/checkpoint/attempt_fence_json.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tunefleet {

using json = nlohmann::json;

std::string AttemptFenceToJson(const AttemptFence& fence) {
  json record = {{"generation", fence.generation},
                 {"attempt", fence.attempt},
                 {"written_unix_ms", fence.written_unix_ms}};
  if (fence.accepted) record["accepted"] = *fence.accepted;
  return record.dump() + "\n";
}

absl::StatusOr<AttemptFence> AttemptFenceFromJson(absl::string_view text, absl::string_view path) {
  if (text.size() > kMaxAttemptFenceBytes) return absl::DataLossError(absl::StrCat(path, ": larger than a fence"));
  const json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("generation") || !parsed["generation"].is_number_integer() ||
      !parsed.contains("attempt") || !parsed["attempt"].is_number_integer() ||
      !parsed.contains("written_unix_ms") || !parsed["written_unix_ms"].is_number_integer()) {
    return absl::DataLossError(absl::StrCat(path, ": not an attempt fence"));
  }
  AttemptFence fence;
  fence.generation = parsed["generation"].get<int64_t>();
  fence.attempt = parsed["attempt"].get<int64_t>();
  fence.written_unix_ms = parsed["written_unix_ms"].get<int64_t>();
  if (parsed.contains("accepted")) {
    const json& accepted = parsed["accepted"];
    if (!accepted.is_array()) return absl::DataLossError(absl::StrCat(path, ": \"accepted\" is not a list"));
    std::vector<std::string> ids;
    for (const json& id : accepted) {
      if (!id.is_string()) return absl::DataLossError(absl::StrCat(path, ": \"accepted\" holds a non-string"));
      ids.push_back(id.get<std::string>());
    }
    fence.accepted = std::move(ids);
  }
  return fence;
}

}  // namespace tunefleet
