#pragma once
// Sizes that every tunefleet process agrees on for gRPC messages.

#include <cstddef>

namespace tunefleet {

// gRPC's default limit on a message a client or server receives.
inline constexpr std::size_t kGrpcDefaultMaxMessageBytes = 4 * 1024 * 1024;

// A page of a List RPC stops growing before its items pass this many bytes,
// so no page can exceed the receive limit above (1,000 jobs with large specs
// did: `tunefleet list` then failed for everyone).
inline constexpr std::size_t kMaxListPageBytes = 3 * 1024 * 1024;

}  // namespace tunefleet
