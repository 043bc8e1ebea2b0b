// Linked into every test binary (tunefleet_test): what a test's result
// depends on is set here, not inherited from whoever runs it. Before main, so
// the child processes a test starts inherit it too.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct PinnedEnvironment {
  PinnedEnvironment() {
    // Intra-op threads change the order of floating-point sums, so results
    // compared across processes must use the same count (one, as the
    // trainers the tests start use).
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("MKL_NUM_THREADS", "1", 1);
    setenv("LC_ALL", "C", 1);
    // The caller's tunefleet settings (a coordinator address, a state dir)
    // never reach a test: each test passes its own.
    std::vector<std::string> ours;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "TUNEFLEET_", 10) == 0) ours.emplace_back(*e, std::strcspn(*e, "="));
    }
    for (const std::string& name : ours) unsetenv(name.c_str());
  }
};

const PinnedEnvironment pinned_environment;

}  // namespace
