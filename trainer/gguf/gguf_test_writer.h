#pragma once
// Builds GGUF files in memory for tests and fuzz seeds: metadata of every
// value type and tensors of any supported type, laid out as llama.cpp does.

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/gguf/ggml_type.h"

namespace tunefleet::testing {

class GgufWriter {
 public:
  void AddString(const std::string& key, const std::string& value);
  void AddU32(const std::string& key, uint32_t value);
  void AddF32(const std::string& key, float value);
  void AddBool(const std::string& key, bool value);
  void AddStrings(const std::string& key, const std::vector<std::string>& values);
  void AddI32s(const std::string& key, const std::vector<int32_t>& values);
  // `dims` in GGUF order (fastest first); `data` the encoded bytes.
  void AddTensor(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type, std::string data);
  std::string Bytes(uint32_t version = 3) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    GgmlType type;
    std::string data;
  };
  std::vector<std::string> kvs_;  // each encoded whole
  std::vector<Tensor> tensors_;
};

// Little-endian encoders for building tensor data by hand.
void PutU16(std::string* out, uint16_t v);
void PutF32(std::string* out, float v);

}  // namespace tunefleet::testing
