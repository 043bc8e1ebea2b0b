// Fuzzes the attempt fence ("attempt-fence.json"), read back from shared
// storage that another job, a partial write or an attacker with write access
// to the checkpoint folder may have left: a parsed fence must write back to
// text that parses to the same fence.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "trainer/checkpoint/attempt_fence_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto fence = tunefleet::AttemptFenceFromJson(text, "fuzz/attempt-fence.json");
  if (!fence.ok()) return 0;
  auto again = tunefleet::AttemptFenceFromJson(tunefleet::AttemptFenceToJson(*fence), "fuzz/again.json");
  if (!again.ok() || again->generation != fence->generation || again->attempt != fence->attempt ||
      again->written_unix_ms != fence->written_unix_ms || again->accepted != fence->accepted) {
    std::abort();
  }
  return 0;
}
