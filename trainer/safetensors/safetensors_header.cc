#include "trainer/safetensors/safetensors_header.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/safetensors/json_snippet.h"

namespace tunefleet {
namespace {

using json = nlohmann::json;

absl::Status TensorError(absl::string_view file, absl::string_view tensor, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": tensor '", tensor, "': ", what));
}

// "[2,3]", as the header spells a shape.
std::string DimsText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// Reads a JSON value as a non-negative integer that fits int64; `what` names
// the field in the error (e.g. "shape[1]").
absl::StatusOr<uint64_t> NonNegativeInt(const json& value, absl::string_view file, absl::string_view tensor,
                                        absl::string_view what) {
  if (!value.is_number_integer()) {
    return TensorError(file, tensor,
                       absl::StrCat(what, " must be a non-negative integer, got ", JsonSnippet(value)));
  }
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return TensorError(file, tensor, absl::StrCat(what, " is too large: ", v));
    }
    return v;
  }
  const int64_t v = value.get<int64_t>();
  if (v < 0) {
    return TensorError(file, tensor, absl::StrCat(what, " must be a non-negative integer, got ", v));
  }
  return static_cast<uint64_t>(v);
}

absl::StatusOr<SafetensorsHeaderEntry> ParseEntry(absl::string_view file, const std::string& name,
                                                  const json& value, uint64_t data_size) {
  if (!value.is_object()) {
    return TensorError(file, name, absl::StrCat("entry must be a JSON object, got ", JsonSnippet(value)));
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) return TensorError(file, name, absl::StrCat("missing \"", key, "\""));
  }
  SafetensorsHeaderEntry entry;
  entry.name = name;

  const json& dtype = value.at("dtype");
  if (!dtype.is_string()) {
    return TensorError(file, name, absl::StrCat("dtype must be a string, got ", JsonSnippet(dtype)));
  }
  std::optional<SafetensorsDType> parsed = ParseDType(dtype.get_ref<const std::string&>());
  if (!parsed) return TensorError(file, name, absl::StrCat("unknown dtype ", JsonSnippet(dtype)));
  entry.dtype = *parsed;

  const json& shape = value.at("shape");
  if (!shape.is_array()) {
    return TensorError(file, name, absl::StrCat("shape must be an array, got ", JsonSnippet(shape)));
  }
  uint64_t numel = 1;
  bool overflow = false;
  bool has_zero_dim = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    absl::StatusOr<uint64_t> dim = NonNegativeInt(shape[i], file, name, absl::StrCat("shape[", i, "]"));
    if (!dim.ok()) return dim.status();
    entry.shape.push_back(static_cast<int64_t>(*dim));
    has_zero_dim = has_zero_dim || *dim == 0;
    overflow = overflow || __builtin_mul_overflow(numel, *dim, &numel);
  }
  uint64_t expected_bytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, DTypeSize(entry.dtype), &expected_bytes);
  // A zero dim makes the product zero whatever overflowed before it.
  if (has_zero_dim) {
    expected_bytes = 0;
  } else if (overflow) {
    return TensorError(file, name, absl::StrCat("shape ", DimsText(entry.shape), " is too large"));
  }

  const json& offsets = value.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) {
    return TensorError(
        file, name,
        absl::StrCat("data_offsets must be [begin, end], got ",
                     offsets.is_array() ? absl::StrCat("an array of ", offsets.size(), " elements")
                                        : JsonSnippet(offsets)));
  }
  absl::StatusOr<uint64_t> begin = NonNegativeInt(offsets[0], file, name, "data_offsets[0]");
  if (!begin.ok()) return begin.status();
  absl::StatusOr<uint64_t> end = NonNegativeInt(offsets[1], file, name, "data_offsets[1]");
  if (!end.ok()) return end.status();
  if (*begin > *end) {
    return TensorError(file, name, absl::StrCat("data_offsets [", *begin, ", ", *end, "] have begin > end"));
  }
  if (*end > data_size) {
    return absl::DataLossError(absl::StrCat(file, ": tensor '", name, "': data_offsets [", *begin, ", ", *end,
                                            "] reach past the data section (", data_size,
                                            " bytes); is the file truncated?"));
  }
  if (*end - *begin != expected_bytes) {
    return TensorError(file, name,
                       absl::StrCat("holds ", *end - *begin, " bytes but ", DTypeName(entry.dtype), " ",
                                    DimsText(entry.shape), " needs ", expected_bytes));
  }
  entry.begin = *begin;
  entry.end = *end;
  return entry;
}

// The format requires the tensors to tile the data section exactly: sorted
// by offset, each starts where the previous ended, and the last ends at the
// end of the data section.
absl::Status CheckCoverage(absl::string_view file, const std::vector<SafetensorsHeaderEntry>& tensors,
                           uint64_t data_size) {
  std::vector<const SafetensorsHeaderEntry*> by_offset;
  by_offset.reserve(tensors.size());
  for (const SafetensorsHeaderEntry& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsHeaderEntry* a, const SafetensorsHeaderEntry* b) {
              return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
            });
  uint64_t cursor = 0;
  const SafetensorsHeaderEntry* previous = nullptr;
  for (const SafetensorsHeaderEntry* t : by_offset) {
    if (t->begin < cursor) {
      return TensorError(file, t->name,
                         absl::StrCat("data_offsets [", t->begin, ", ", t->end, "] overlap tensor '",
                                      previous->name, "' [", previous->begin, ", ", previous->end, "]"));
    }
    if (t->begin > cursor) {
      return TensorError(file, t->name,
                         absl::StrCat("data_offsets [", t->begin, ", ", t->end, "] leave a hole: bytes [",
                                      cursor, ", ", t->begin, ") of the data section belong to no tensor"));
    }
    cursor = t->end;
    previous = t;
  }
  if (cursor != data_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": data section has ", data_size - cursor, " trailing bytes [", cursor, ", ",
                     data_size, ") that belong to no tensor",
                     previous ? absl::StrCat(" (last tensor: '", previous->name, "')") : std::string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(absl::string_view file, const json& value) {
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": \"__metadata__\" must be an object of strings, got ", JsonSnippet(value)));
  }
  std::map<std::string, std::string> metadata;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": \"__metadata__\" key '", it.key(),
                                                     "' must map to a string, got ",
                                                     JsonSnippet(it.value())));
    }
    metadata[it.key()] = it.value().get<std::string>();
  }
  return metadata;
}

absl::StatusOr<SafetensorsHeader> Parse(absl::string_view file, absl::string_view header_json,
                                        uint64_t data_size) {
  json root;
  try {
    root = json::parse(header_json.begin(), header_json.end());
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": header is not valid JSON: ", e.what()));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": header must be a JSON object, got a ", root.type_name()));
  }
  SafetensorsHeader header;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == kSafetensorsMetadataKey) {
      absl::StatusOr<std::map<std::string, std::string>> metadata = ParseMetadata(file, it.value());
      if (!metadata.ok()) return metadata.status();
      header.metadata = *std::move(metadata);
      continue;
    }
    absl::StatusOr<SafetensorsHeaderEntry> entry = ParseEntry(file, it.key(), it.value(), data_size);
    if (!entry.ok()) return entry.status();
    header.tensors.push_back(*std::move(entry));
  }
  // nlohmann's object is a std::map, so the entries already come sorted by
  // name; the reader relies on that for binary search.
  if (absl::Status s = CheckCoverage(file, header.tensors, data_size); !s.ok()) return s;
  return header;
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view file,
                                                         absl::string_view header_json, uint64_t data_size) {
  // nlohmann throws for type errors too; none should escape the checks
  // above, but a malformed file must never take the process down.
  try {
    return Parse(file, header_json, data_size);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": bad header: ", e.what()));
  }
}

}  // namespace tunefleet
