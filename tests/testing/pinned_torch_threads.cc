// Linked into every test binary that runs libtorch in-process: OpenMP read
// OMP_NUM_THREADS when it loaded, before pinned_environment.cc could set it,
// so torch's intra-op pool is pinned to one thread here too.
#include <ATen/Parallel.h>

namespace {

struct PinnedTorchThreads {
  PinnedTorchThreads() { at::set_num_threads(1); }
};

const PinnedTorchThreads pinned_torch_threads;

}  // namespace
