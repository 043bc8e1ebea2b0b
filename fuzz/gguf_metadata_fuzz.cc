// Fuzzes a GGUF file's header, metadata and tensor table, then the typed
// lookups the model loader makes and the tokenizer.json built from metadata.
#include <cstddef>
#include <cstdint>
#include <string>

#include "trainer/gguf/gguf_file.h"
#include "trainer/gguf/gguf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = tunefleet::GgufFile::FromBytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.gguf");
  if (!file.ok()) return 0;
  const tunefleet::GgufFile& f = **file;
  for (const auto& [key, value] : f.metadata()) {
    (void)f.String(key);
    (void)f.Unsigned(key);
    (void)f.Float(key);
    (void)f.Bool(key);
    (void)f.Strings(key);
    (void)f.Ints(key);
  }
  for (const auto& tensor : f.tensors()) (void)f.TensorData(tensor);
  (void)tunefleet::GgufTokenizer(f);
  return 0;
}
