#include "common/lineage/lineage_record.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace tunefleet {

using Json = nlohmann::json;

absl::Status CheckSameInputs(const Lineage& recorded, const Lineage& now) {
  for (const ContentHash& before : recorded.inputs) {
    const auto after = std::find_if(now.inputs.begin(), now.inputs.end(), [&](const ContentHash& h) {
      return h.role == before.role && h.path == before.path;
    });
    if (after == now.inputs.end()) {
      return absl::FailedPreconditionError(absl::StrCat("the ", before.role, " file ", before.path,
                                                        " that the checkpoint was trained on is gone from the job's inputs"));
    }
    if (after->sha256 != before.sha256) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the ", before.role, " file ", before.path, " changed since the checkpoint was written (sha256 ",
          before.sha256.substr(0, 16), "... then, ", after->sha256.substr(0, 16), "... now): resuming would train on ",
          "other data than the steps before; restore the file or start a new job"));
    }
  }
  for (const ContentHash& added : now.inputs) {
    const bool known = std::any_of(recorded.inputs.begin(), recorded.inputs.end(), [&](const ContentHash& h) {
      return h.role == added.role && h.path == added.path;
    });
    if (!known) {
      return absl::FailedPreconditionError(
          absl::StrCat("the ", added.role, " file ", added.path, " was not among the checkpoint's inputs"));
    }
  }
  return absl::OkStatus();
}

std::string LineageToJson(const Lineage& lineage, int indent) {
  Json inputs = Json::array();
  for (const ContentHash& h : lineage.inputs) {
    inputs.push_back({{"role", h.role}, {"path", h.path}, {"size_bytes", h.size_bytes}, {"sha256", h.sha256}});
  }
  const Json j = {{"tunefleet_version", lineage.tunefleet_version},
                  {"spec_sha256", lineage.spec_sha256},
                  {"inputs", std::move(inputs)}};
  return j.dump(indent);
}

absl::StatusOr<Lineage> LineageFromJson(absl::string_view text, absl::string_view source) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError(absl::StrCat(source, ": lineage is not a JSON object"));
  auto string_at = [&](const Json& object, const char* key, std::string* out) -> absl::Status {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
      return absl::DataLossError(absl::StrCat(source, ": lineage field '", key, "' is missing or not a string"));
    }
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  Lineage lineage;
  if (auto s = string_at(j, "tunefleet_version", &lineage.tunefleet_version); !s.ok()) return s;
  if (auto s = string_at(j, "spec_sha256", &lineage.spec_sha256); !s.ok()) return s;
  const auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) {
    return absl::DataLossError(absl::StrCat(source, ": lineage field 'inputs' is missing or not a list"));
  }
  for (const Json& item : *inputs) {
    if (!item.is_object()) return absl::DataLossError(absl::StrCat(source, ": a lineage input is not an object"));
    ContentHash h;
    if (auto s = string_at(item, "role", &h.role); !s.ok()) return s;
    if (auto s = string_at(item, "path", &h.path); !s.ok()) return s;
    if (auto s = string_at(item, "sha256", &h.sha256); !s.ok()) return s;
    const auto size = item.find("size_bytes");
    if (size == item.end() || !size->is_number_unsigned()) {
      return absl::DataLossError(absl::StrCat(source, ": lineage input ", h.path, " has no size_bytes"));
    }
    h.size_bytes = size->get<uint64_t>();
    lineage.inputs.push_back(std::move(h));
  }
  return lineage;
}

}  // namespace tunefleet
