// Fuzzes the JSONL dataset reader with each declared format and with
// detection from the first line.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "trainer/data/jsonl_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto format : {tunefleet::v1::DATASET_FORMAT_UNSPECIFIED, tunefleet::v1::DATASET_FORMAT_TEXT,
                      tunefleet::v1::DATASET_FORMAT_PROMPT_COMPLETION, tunefleet::v1::DATASET_FORMAT_CHAT}) {
    (void)tunefleet::ParseJsonl(text, "fuzz.jsonl", format);
  }
  return 0;
}
