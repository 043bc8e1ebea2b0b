#include "trainer/gguf/gguf_test_writer.h"

#include <cstring>

namespace tunefleet::testing {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out->append(bytes, sizeof(T));
}

void PutString(std::string* out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  out->append(s);
}

std::string Key(const std::string& key, uint32_t type) {
  std::string kv;
  PutString(&kv, key);
  Put<uint32_t>(&kv, type);
  return kv;
}

}  // namespace

void PutU16(std::string* out, uint16_t v) { Put(out, v); }
void PutF32(std::string* out, float v) { Put(out, v); }

void GgufWriter::AddString(const std::string& key, const std::string& value) {
  std::string kv = Key(key, 8);
  PutString(&kv, value);
  kvs_.push_back(kv);
}
void GgufWriter::AddU32(const std::string& key, uint32_t value) {
  std::string kv = Key(key, 4);
  Put(&kv, value);
  kvs_.push_back(kv);
}
void GgufWriter::AddF32(const std::string& key, float value) {
  std::string kv = Key(key, 6);
  Put(&kv, value);
  kvs_.push_back(kv);
}
void GgufWriter::AddBool(const std::string& key, bool value) {
  std::string kv = Key(key, 7);
  Put<uint8_t>(&kv, value ? 1 : 0);
  kvs_.push_back(kv);
}
void GgufWriter::AddStrings(const std::string& key, const std::vector<std::string>& values) {
  std::string kv = Key(key, 9);
  Put<uint32_t>(&kv, 8);
  Put<uint64_t>(&kv, values.size());
  for (const std::string& v : values) PutString(&kv, v);
  kvs_.push_back(kv);
}
void GgufWriter::AddI32s(const std::string& key, const std::vector<int32_t>& values) {
  std::string kv = Key(key, 9);
  Put<uint32_t>(&kv, 5);
  Put<uint64_t>(&kv, values.size());
  for (const int32_t v : values) Put(&kv, v);
  kvs_.push_back(kv);
}
void GgufWriter::AddTensor(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type,
                           std::string data) {
  tensors_.push_back({name, dims, type, std::move(data)});
}

std::string GgufWriter::Bytes(uint32_t version) const {
  constexpr uint64_t kAlign = 32;
  std::string out;
  Put<uint32_t>(&out, 0x46554747);
  Put<uint32_t>(&out, version);
  Put<uint64_t>(&out, tensors_.size());
  Put<uint64_t>(&out, kvs_.size());
  for (const std::string& kv : kvs_) out += kv;
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    PutString(&out, t.name);
    Put<uint32_t>(&out, static_cast<uint32_t>(t.dims.size()));
    for (const uint64_t d : t.dims) Put<uint64_t>(&out, d);
    Put<uint32_t>(&out, static_cast<uint32_t>(t.type));
    Put<uint64_t>(&out, offset);
    offset += (t.data.size() + kAlign - 1) / kAlign * kAlign;
  }
  out.resize((out.size() + kAlign - 1) / kAlign * kAlign, '\0');
  for (const Tensor& t : tensors_) {
    out += t.data;
    out.resize((out.size() + kAlign - 1) / kAlign * kAlign, '\0');
  }
  return out;
}

}  // namespace tunefleet::testing
