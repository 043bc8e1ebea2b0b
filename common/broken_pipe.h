#pragma once
// A peer rank that dies closes its sockets; Gloo's next write to one must
// fail with EPIPE (and the rank exit naming the collective that failed), not
// raise SIGPIPE and kill the trainer without a word. A worker happens to pass
// SIGPIPE ignored to its trainers (its metrics server ignores it); a trainer
// started any other way must not depend on that. Python does the same at
// start, which is why PyTorch's Gloo never meets it. Header-only.

#include <signal.h>

namespace tunefleet {

inline void IgnoreBrokenPipes() { signal(SIGPIPE, SIG_IGN); }

}  // namespace tunefleet
