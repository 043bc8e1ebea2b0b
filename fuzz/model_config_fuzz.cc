// Fuzzes config.json parsing and its checks: whatever it accepts must be
// within the documented limits (the model is allocated from these numbers).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "trainer/model/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config = tunefleet::ParseModelConfig(std::string(reinterpret_cast<const char*>(data), size),
                                            "fuzz/config.json");
  if (config.ok()) (void)config->ToJson();
  return 0;
}
