#pragma once
// A TCP port free right now on `address`: bound with port 0, read back and
// released, for rank 0's rendezvous (TCPStore). A race with another process
// in between is possible but short, unlike base + generation % span, which
// never checked at all.

#include <string>

#include "absl/status/statusor.h"

namespace tunefleet::supervisor {

absl::StatusOr<int> PickFreePort(const std::string& address);

}  // namespace tunefleet::supervisor
