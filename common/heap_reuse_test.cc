#include "common/heap_reuse.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace tunefleet {
namespace {

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// One step's activation: allocated, written, freed.
void AllocateWriteFree(size_t bytes) {
  char* p = static_cast<char*>(std::malloc(bytes));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, bytes);
  asm volatile("" : : "r"(p) : "memory");  // the writes happen
  std::free(p);
}

// Under glibc's defaults an 8 MiB block is mmapped and unmapped each time, and
// each of its pages (2,048 of 4 KiB) faults again on every cycle.
TEST(HeapReuseTest, ATensorFreedAndAllocatedAgainIsNotFaultedInAgain) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc, which mallopt tunes";
#endif
  KeepFreedHeapForReuse();
  constexpr size_t kBytes = size_t{8} << 20;
  AllocateWriteFree(kBytes);  // the first touch maps the pages
  const long before = MinorFaults();
  constexpr int kCycles = 10;
  for (int i = 0; i < kCycles; ++i) AllocateWriteFree(kBytes);
  const long pages_per_cycle = static_cast<long>(kBytes) / sysconf(_SC_PAGESIZE);
  EXPECT_LT(MinorFaults() - before, pages_per_cycle / 4) << "the freed block went back to the kernel";
}

}  // namespace
}  // namespace tunefleet
