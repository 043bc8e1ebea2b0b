// Fuzzes the safetensors header check with a whole file's bytes: the 8-byte
// little-endian header length, the JSON header, the data section. The split
// mirrors SafetensorsFile::Open, which maps the file and hands the parser the
// header text and the size of what follows it.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "trainer/safetensors/safetensors_format.h"
#include "trainer/safetensors/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | data[i];
  const size_t rest = size - 8;
  if (header_size > rest || header_size > tunefleet::kMaxSafetensorsHeaderSize) return 0;
  const absl::string_view header(reinterpret_cast<const char*>(data + 8), header_size);
  (void)tunefleet::ParseSafetensorsHeader("fuzz.safetensors", header, rest - header_size);
  return 0;
}
