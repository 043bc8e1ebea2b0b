// Linked into every test binary (tunefleet_test): what a test's result
// depends on is set here, not inherited from whoever runs it. Before main, so
// the child processes a test starts inherit it too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace {

// Every test process writes under a directory of its own (TEST_TMPDIR for
// ::testing::TempDir(), TMPDIR for std::filesystem::temp_directory_path()
// and the processes a test starts), removed when its tests pass: a full run
// otherwise leaves about 1 GiB of checkpoints and databases behind, which
// filled CI's disk. A failing test's files stay, and their place is printed.
class PrivateTempDirectory {
 public:
  PrivateTempDirectory() {
    const char* base = std::getenv("TEST_TMPDIR");
    if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tunefleet-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return;  // the shared place, as before
    path_ = pattern;
    setenv("TEST_TMPDIR", path_.c_str(), 1);
    setenv("TMPDIR", path_.c_str(), 1);
    // The singleton exists before this object is complete, so it outlives it.
    ::testing::UnitTest::GetInstance();
  }
  ~PrivateTempDirectory() {
    // A child (fork without exec) leaves through _exit and never gets here.
    if (path_.empty() || getpid() != owner_) return;
    if (!::testing::UnitTest::GetInstance()->Passed()) {
      std::fprintf(stderr, "test files kept in %s\n", path_.c_str());
      return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PrivateTempDirectory(const PrivateTempDirectory&) = delete;
  PrivateTempDirectory& operator=(const PrivateTempDirectory&) = delete;

 private:
  std::string path_;
  pid_t owner_ = getpid();
};

struct PinnedEnvironment {
  PinnedEnvironment() {
    // Intra-op threads change the order of floating-point sums, so results
    // compared across processes must use the same count (one, as the
    // trainers the tests start use).
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("MKL_NUM_THREADS", "1", 1);
    setenv("LC_ALL", "C", 1);
    // The caller's tunefleet settings (a coordinator address, a state dir)
    // never reach a test: each test passes its own. The one exception is
    // addressed to the tests themselves (tests/cli/cli_test_support.cc).
    std::vector<std::string> ours;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "TUNEFLEET_", 10) == 0 && std::strncmp(*e, "TUNEFLEET_UPDATE_GOLDEN=", 24) != 0) {
        ours.emplace_back(*e, std::strcspn(*e, "="));
      }
    }
    for (const std::string& name : ours) unsetenv(name.c_str());
  }
};

const PinnedEnvironment pinned_environment;
const PrivateTempDirectory private_temp_directory;

}  // namespace
