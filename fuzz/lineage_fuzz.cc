// Fuzzes the lineage record: an export's tunefleet_lineage.json and the
// `lineage` object of a checkpoint manifest, read back from storage that
// anyone with write access to an export folder may have edited.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/lineage/lineage_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto lineage = tunefleet::LineageFromJson(text, "fuzz/tunefleet_lineage.json");
  if (!lineage.ok()) return 0;
  // What parses must print and compare without trouble.
  auto again = tunefleet::LineageFromJson(tunefleet::LineageToJson(*lineage), "fuzz/again.json");
  if (!again.ok()) __builtin_trap();
  (void)tunefleet::CheckSameInputs(*lineage, *again);
  return 0;
}
