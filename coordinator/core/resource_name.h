#pragma once
// Resource names of the API ("jobs/{id}", "workers/{id}"), checked once for
// every manager that looks one up.

#include <string>

#include "absl/status/status.h"

namespace tunefleet::coordinator {

// INVALID_ARGUMENT unless `name` is "{collection}/{id}" with a non-empty id and no further '/'.
absl::Status CheckResourceName(const std::string& name, const std::string& collection);

}  // namespace tunefleet::coordinator
