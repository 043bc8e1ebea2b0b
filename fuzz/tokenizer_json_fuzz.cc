// Fuzzes tokenizer.json loading and, for files it accepts, a round of
// encode/decode over the same bytes (a loaded vocabulary must not make
// encoding crash on any text).
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "trainer/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto tokenizer = tunefleet::Tokenizer::FromJson(text, "fuzz/tokenizer.json");
  if (!tokenizer.ok()) return 0;
  const absl::string_view sample = text.substr(0, 256);
  const std::vector<int32_t> ids = (*tokenizer)->Encode(sample, /*parse_special=*/true);
  (void)(*tokenizer)->Decode(ids);
  (void)(*tokenizer)->Encode(sample, /*parse_special=*/false);
  return 0;
}
