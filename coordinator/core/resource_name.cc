#include "coordinator/core/resource_name.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tunefleet::coordinator {

absl::Status CheckResourceName(const std::string& name, const std::string& collection) {
  const std::string prefix = collection + "/";
  if (!absl::StartsWith(name, prefix) || name.size() == prefix.size() ||
      name.find('/', prefix.size()) != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("name: expected \"", collection, "/{id}\", got \"", name, "\""));
  }
  return absl::OkStatus();
}

}  // namespace tunefleet::coordinator
