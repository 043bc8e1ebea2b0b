#include "trainer/safetensors/safetensors_writer.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "trainer/safetensors/atomic_file.h"

namespace tunefleet {
namespace {

using json = nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors writer assumes little-endian");

absl::Status TensorError(absl::string_view path, absl::string_view tensor, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", tensor, "': ", what));
}

absl::Status CheckTensor(absl::string_view path, const TensorToWrite& t) {
  if (t.name.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty tensor name"));
  if (t.name == kSafetensorsMetadataKey) {
    return TensorError(path, t.name, "the name is reserved for metadata");
  }
  uint64_t numel = 1;
  bool overflow = false;
  bool has_zero_dim = false;
  for (int64_t d : t.shape) {
    if (d < 0) return TensorError(path, t.name, absl::StrCat("negative dimension ", d));
    has_zero_dim = has_zero_dim || d == 0;
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
  }
  uint64_t expected = 0;
  overflow = overflow || __builtin_mul_overflow(numel, DTypeSize(t.dtype), &expected);
  if (has_zero_dim) {
    expected = 0;
  } else if (overflow) {
    return TensorError(path, t.name, "shape is too large");
  }
  if (t.size_bytes != expected) {
    return TensorError(path, t.name,
                       absl::StrCat("has ", t.size_bytes, " bytes but ", DTypeName(t.dtype),
                                    " of its shape needs ", expected));
  }
  if (t.size_bytes > 0 && t.data == nullptr) return TensorError(path, t.name, "null data");
  return absl::OkStatus();
}

// The tensors in the order they go into the file: by name, as the header's
// sorted keys list them, so the offsets read in increasing order.
std::vector<const TensorToWrite*> InFileOrder(const std::vector<TensorToWrite>& tensors) {
  std::vector<const TensorToWrite*> order;
  order.reserve(tensors.size());
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  return order;
}

absl::StatusOr<std::string> BuildHeader(absl::string_view path, const std::vector<TensorToWrite>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  std::set<absl::string_view> seen;
  for (const TensorToWrite& t : tensors) {
    if (absl::Status s = CheckTensor(path, t); !s.ok()) return s;
    if (!seen.insert(t.name).second) return TensorError(path, t.name, "duplicate tensor name");
  }
  // nlohmann's default object is a std::map, so dump() sorts every key.
  json header = json::object();
  if (!metadata.empty()) header[std::string(kSafetensorsMetadataKey)] = metadata;
  uint64_t offset = 0;
  for (const TensorToWrite* t : InFileOrder(tensors)) {
    header[t->name] = {{"dtype", std::string(DTypeName(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->size_bytes}}};
    offset += t->size_bytes;
  }
  // Strict UTF-8 (the default) throws on an invalid name rather than write
  // a header no reader accepts; the caller turns that into a Status.
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

}  // namespace

absl::StatusOr<std::string> BuildSafetensorsHeader(absl::string_view path,
                                                   const std::vector<TensorToWrite>& tensors,
                                                   const std::map<std::string, std::string>& metadata) {
  try {
    return BuildHeader(path, tensors, metadata);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot build header: ", e.what()));
  }
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::string> header = BuildSafetensorsHeader(path, tensors, metadata);
  if (!header.ok()) return header.status();
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out = AtomicFileWriter::Create(path);
  if (!out.ok()) return out.status();
  const uint64_t header_size = header->size();  // little-endian on disk and host
  if (absl::Status s = (*out)->Append(&header_size, sizeof(header_size)); !s.ok()) return s;
  if (absl::Status s = (*out)->Append(header->data(), header->size()); !s.ok()) return s;
  for (const TensorToWrite* t : InFileOrder(tensors)) {
    if (absl::Status s = (*out)->Append(t->data, t->size_bytes); !s.ok()) return s;
  }
  return (*out)->Commit();
}

}  // namespace tunefleet
