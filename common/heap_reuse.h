#pragma once
// A training step frees and allocates the same tensors every step. glibc's
// defaults hand freed memory back to the kernel (a trimmed heap top, an mmap per
// tensor over 128 KiB) and fault it in again, page by page, in the next step's
// first touch: on the bundled demo model at 2 threads that was 390,000 page
// faults in 42 steps and a fifth of the step time. Keep it instead, as
// PyTorch's CUDA caching allocator does: tensors up to glibc's largest mmap
// threshold (32 MiB) come from the heap, and up to 1 GiB of free heap top stays
// mapped. The peak resident set grows by what the heap fragments (measured in
// docs/performance.md). Header-only; call before the first tensor.

#include <malloc.h>

namespace tunefleet {

inline void KeepFreedHeapForReuse() {
  constexpr int kMmapThreshold = 32 << 20;  // glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
  constexpr int kTrimThreshold = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

}  // namespace tunefleet
