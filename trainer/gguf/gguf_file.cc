#include "trainer/gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"

namespace tunefleet {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read little-endian
// Bounds that no real model comes near and that keep a hostile header from
// asking for absurd allocations before the file size check catches it.
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 24;  // a chat template, a merge
constexpr uint64_t kMaxTensors = uint64_t{1} << 20;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// Reads little-endian values from the mapping, failing (never reading past
// the end) with an error naming what it was reading.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& source) : data_(data), size_(size), source_(source) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": GGUF ", what, " (at byte ", pos_, ")"));
  }

  template <typename T>
  absl::StatusOr<T> Read(const std::string& what) {
    if (remaining() < sizeof(T)) return Error(absl::StrCat("truncated while reading ", what));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // the host is little-endian, as GGUF (x86-64, aarch64)
    pos_ += sizeof(T);
    return v;
  }

  absl::StatusOr<std::string> ReadString(const std::string& what) {
    auto n = Read<uint64_t>(what + " length");
    if (!n.ok()) return n.status();
    if (*n > kMaxStringBytes) return Error(absl::StrCat(what, " is ", *n, " bytes (limit ", kMaxStringBytes, ")"));
    if (*n > remaining()) return Error(absl::StrCat("truncated in ", what));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), *n);
    pos_ += *n;
    return s;
  }

  absl::Status Skip(uint64_t n, const std::string& what) {
    if (n > remaining()) return Error(absl::StrCat("truncated in ", what));
    pos_ += n;
    return absl::OkStatus();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& source_;
};

uint64_t ScalarBytes(uint32_t type) {
  switch (type) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// One scalar of `type` as a GgufValue.
absl::StatusOr<GgufValue> ReadScalar(Cursor& c, uint32_t type, const std::string& key) {
  GgufValue v;
  auto put_unsigned = [&](absl::StatusOr<uint64_t> x) -> absl::StatusOr<GgufValue> {
    if (!x.ok()) return x.status();
    v.kind = GgufValue::Kind::kUnsigned;
    v.value = *x;
    return v;
  };
  auto put_signed = [&](absl::StatusOr<int64_t> x) -> absl::StatusOr<GgufValue> {
    if (!x.ok()) return x.status();
    v.kind = GgufValue::Kind::kSigned;
    v.value = *x;
    return v;
  };
  auto put_float = [&](absl::StatusOr<double> x) -> absl::StatusOr<GgufValue> {
    if (!x.ok()) return x.status();
    v.kind = GgufValue::Kind::kFloat;
    v.value = *x;
    return v;
  };
  switch (type) {
    case kU8: { auto x = c.Read<uint8_t>(key); return x.ok() ? put_unsigned(*x) : x.status(); }
    case kU16: { auto x = c.Read<uint16_t>(key); return x.ok() ? put_unsigned(*x) : x.status(); }
    case kU32: { auto x = c.Read<uint32_t>(key); return x.ok() ? put_unsigned(*x) : x.status(); }
    case kU64: return put_unsigned(c.Read<uint64_t>(key));
    case kI8: { auto x = c.Read<int8_t>(key); return x.ok() ? put_signed(*x) : x.status(); }
    case kI16: { auto x = c.Read<int16_t>(key); return x.ok() ? put_signed(*x) : x.status(); }
    case kI32: { auto x = c.Read<int32_t>(key); return x.ok() ? put_signed(*x) : x.status(); }
    case kI64: return put_signed(c.Read<int64_t>(key));
    case kF32: { auto x = c.Read<float>(key); return x.ok() ? put_float(*x) : x.status(); }
    case kF64: return put_float(c.Read<double>(key));
    case kBool: {
      auto x = c.Read<uint8_t>(key);
      if (!x.ok()) return x.status();
      if (*x > 1) return c.Error(absl::StrCat("metadata '", key, "': a bool of value ", *x));
      v.kind = GgufValue::Kind::kBool;
      v.value = *x == 1;
      return v;
    }
    case kString: {
      auto s = c.ReadString(absl::StrCat("metadata '", key, "'"));
      if (!s.ok()) return s.status();
      v.kind = GgufValue::Kind::kString;
      v.value = *std::move(s);
      return v;
    }
    default:
      return c.Error(absl::StrCat("metadata '", key, "': unknown value type ", type));
  }
}

absl::StatusOr<GgufValue> ReadArray(Cursor& c, const std::string& key) {
  auto elem_type = c.Read<uint32_t>(key + " element type");
  if (!elem_type.ok()) return elem_type.status();
  auto count = c.Read<uint64_t>(key + " length");
  if (!count.ok()) return count.status();
  GgufValue v;
  if (*elem_type == kArray) {
    // No model field is an array of arrays; skip it element by element.
    for (uint64_t i = 0; i < *count; ++i) {
      if (auto inner = ReadArray(c, key); !inner.ok()) return inner.status();
    }
    v.kind = GgufValue::Kind::kUnsupported;
    return v;
  }
  if (*elem_type == kString) {
    // Each string takes at least its 8-byte length: bound the count by the file.
    if (*count > c.remaining() / 8) return c.Error(absl::StrCat("metadata '", key, "': ", *count, " strings do not fit"));
    std::vector<std::string> strings;
    strings.reserve(*count);
    for (uint64_t i = 0; i < *count; ++i) {
      auto s = c.ReadString(absl::StrCat("metadata '", key, "'[", i, "]"));
      if (!s.ok()) return s.status();
      strings.push_back(*std::move(s));
    }
    v.kind = GgufValue::Kind::kStringArray;
    v.value = std::move(strings);
    return v;
  }
  const uint64_t width = ScalarBytes(*elem_type);
  if (width == 0) return c.Error(absl::StrCat("metadata '", key, "': unknown element type ", *elem_type));
  if (*count > c.remaining() / width) return c.Error(absl::StrCat("metadata '", key, "': ", *count, " elements do not fit"));
  const bool floats = *elem_type == kF32 || *elem_type == kF64;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  (floats ? reals.reserve(*count) : ints.reserve(*count));
  for (uint64_t i = 0; i < *count; ++i) {
    auto x = ReadScalar(c, *elem_type, key);
    if (!x.ok()) return x.status();
    switch (x->kind) {
      case GgufValue::Kind::kUnsigned: ints.push_back(static_cast<int64_t>(std::get<uint64_t>(x->value))); break;
      case GgufValue::Kind::kSigned: ints.push_back(std::get<int64_t>(x->value)); break;
      case GgufValue::Kind::kBool: ints.push_back(std::get<bool>(x->value) ? 1 : 0); break;
      default: reals.push_back(std::get<double>(x->value)); break;
    }
  }
  if (floats) {
    v.kind = GgufValue::Kind::kFloatArray;
    v.value = std::move(reals);
  } else {
    v.kind = GgufValue::Kind::kIntArray;
    v.value = std::move(ints);
  }
  return v;
}

absl::Status KeyError(const std::string& source, const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": GGUF metadata '", key, "' ", what));
}

}  // namespace

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) munmap(mapping_, size_);
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  // Through the path policy: the model file is a user path.
  absl::StatusOr<UniqueFd> opened = OpenUserFile(path);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(), absl::StrCat("cannot open ", path, ": ", opened.status().message()));
  }
  const int fd = opened->release();
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->source_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0) {
    void* m = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      close(fd);
      return absl::UnavailableError(absl::StrCat("cannot map ", path, ": ", std::strerror(err)));
    }
    file->mapping_ = m;
    file->data_ = static_cast<const uint8_t*>(m);
  }
  close(fd);
  if (auto s = file->Parse(); !s.ok()) return s;
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBytes(std::string bytes, const std::string& source) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->source_ = source;
  file->owned_ = std::move(bytes);
  file->data_ = reinterpret_cast<const uint8_t*>(file->owned_.data());
  file->size_ = file->owned_.size();
  if (auto s = file->Parse(); !s.ok()) return s;
  return file;
}

absl::Status GgufFile::Parse() {
  Cursor c(data_, size_, source_);
  auto magic = c.Read<uint32_t>("the magic");
  if (!magic.ok()) return magic.status();
  if (*magic != kMagic) return c.Error("magic is missing: not a GGUF file");
  auto version = c.Read<uint32_t>("the version");
  if (!version.ok()) return version.status();
  if (*version != 2 && *version != 3) return c.Error(absl::StrCat("version ", *version, " is not supported (2 and 3 are)"));
  version_ = *version;
  auto tensor_count = c.Read<uint64_t>("the tensor count");
  if (!tensor_count.ok()) return tensor_count.status();
  auto kv_count = c.Read<uint64_t>("the metadata count");
  if (!kv_count.ok()) return kv_count.status();
  if (*tensor_count > kMaxTensors) return c.Error(absl::StrCat("tensor count ", *tensor_count, " is over the limit"));
  // Every key/value takes at least 8 (key length) + 4 (type) bytes.
  if (*kv_count > c.remaining() / 12) return c.Error(absl::StrCat("metadata count ", *kv_count, " does not fit"));

  for (uint64_t i = 0; i < *kv_count; ++i) {
    auto key = c.ReadString(absl::StrCat("metadata key #", i));
    if (!key.ok()) return key.status();
    if (metadata_.count(*key) != 0) return c.Error(absl::StrCat("metadata key '", *key, "' appears twice"));
    auto type = c.Read<uint32_t>(absl::StrCat("metadata '", *key, "' type"));
    if (!type.ok()) return type.status();
    auto value = *type == kArray ? ReadArray(c, *key) : ReadScalar(c, *type, *key);
    if (!value.ok()) return value.status();
    metadata_.emplace(*std::move(key), *std::move(value));
  }

  uint64_t alignment = 32;
  if (Has("general.alignment")) {
    auto a = Unsigned("general.alignment");
    if (!a.ok()) return a.status();
    if (*a == 0 || (*a & (*a - 1)) != 0 || *a > 4096) {
      return c.Error(absl::StrCat("general.alignment ", *a, " is not a power of two up to 4096"));
    }
    alignment = *a;
  }

  tensors_.reserve(*tensor_count);
  for (uint64_t i = 0; i < *tensor_count; ++i) {
    GgufTensorInfo t;
    auto name = c.ReadString(absl::StrCat("tensor #", i, " name"));
    if (!name.ok()) return name.status();
    t.name = *std::move(name);
    if (tensor_index_.count(t.name) != 0) return c.Error(absl::StrCat("tensor '", t.name, "' appears twice"));
    auto n_dims = c.Read<uint32_t>(t.name + " rank");
    if (!n_dims.ok()) return n_dims.status();
    if (*n_dims == 0 || *n_dims > kMaxDims) return c.Error(absl::StrCat("tensor '", t.name, "' has rank ", *n_dims));
    t.elements = 1;
    for (uint32_t d = 0; d < *n_dims; ++d) {
      auto dim = c.Read<uint64_t>(t.name + " shape");
      if (!dim.ok()) return dim.status();
      // Bounded so the product cannot overflow: 2^40 elements is beyond any file.
      if (*dim == 0 || *dim > (uint64_t{1} << 40) ||
          static_cast<uint64_t>(t.elements) > (uint64_t{1} << 40) / *dim) {
        return c.Error(absl::StrCat("tensor '", t.name, "' has dimension ", *dim, " (or too many elements)"));
      }
      t.dims.push_back(static_cast<int64_t>(*dim));
      t.elements *= static_cast<int64_t>(*dim);
    }
    auto type = c.Read<uint32_t>(t.name + " type");
    if (!type.ok()) return type.status();
    const std::optional<GgmlBlockLayout> layout = BlockLayoutOf(*type);
    if (!layout) {
      return c.Error(absl::StrCat("tensor '", t.name, "' is of type ", GgmlTypeName(*type),
                                  ", which is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 are)"));
    }
    t.type = static_cast<GgmlType>(*type);
    if (t.dims[0] % layout->elements != 0) {
      return c.Error(absl::StrCat("tensor '", t.name, "': its rows of ", t.dims[0], " are not whole ",
                                  GgmlTypeName(*type), " blocks of ", layout->elements));
    }
    t.bytes = static_cast<uint64_t>(t.elements / layout->elements * layout->bytes);
    auto offset = c.Read<uint64_t>(t.name + " offset");
    if (!offset.ok()) return offset.status();
    if (*offset % alignment != 0) return c.Error(absl::StrCat("tensor '", t.name, "' offset ", *offset, " is not aligned"));
    t.offset = *offset;
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  data_offset_ = (c.pos() + alignment - 1) / alignment * alignment;
  for (const GgufTensorInfo& t : tensors_) {
    if (data_offset_ > size_ || t.offset > size_ - data_offset_ || t.bytes > size_ - data_offset_ - t.offset) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": GGUF tensor '", t.name, "' (", t.bytes,
                                                     " bytes at offset ", t.offset, ") lies past the end of the file (",
                                                     size_, " bytes): the file is truncated"));
    }
  }
  return absl::OkStatus();
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

absl::Span<const uint8_t> GgufFile::TensorData(const GgufTensorInfo& tensor) const {
  return absl::Span<const uint8_t>(data_ + data_offset_ + tensor.offset, tensor.bytes);
}

absl::StatusOr<std::string> GgufFile::String(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) return KeyError(source_, key, "is missing");
  if (it->second.kind != GgufValue::Kind::kString) return KeyError(source_, key, "is not a string");
  return std::get<std::string>(it->second.value);
}

absl::StatusOr<uint64_t> GgufFile::Unsigned(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) return KeyError(source_, key, "is missing");
  if (it->second.kind == GgufValue::Kind::kUnsigned) return std::get<uint64_t>(it->second.value);
  if (it->second.kind == GgufValue::Kind::kSigned && std::get<int64_t>(it->second.value) >= 0) {
    return static_cast<uint64_t>(std::get<int64_t>(it->second.value));
  }
  return KeyError(source_, key, "is not a non-negative integer");
}

absl::StatusOr<double> GgufFile::Float(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) return KeyError(source_, key, "is missing");
  switch (it->second.kind) {
    case GgufValue::Kind::kFloat: return std::get<double>(it->second.value);
    case GgufValue::Kind::kUnsigned: return static_cast<double>(std::get<uint64_t>(it->second.value));
    case GgufValue::Kind::kSigned: return static_cast<double>(std::get<int64_t>(it->second.value));
    default: return KeyError(source_, key, "is not a number");
  }
}

absl::StatusOr<bool> GgufFile::Bool(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) return KeyError(source_, key, "is missing");
  if (it->second.kind != GgufValue::Kind::kBool) return KeyError(source_, key, "is not a bool");
  return std::get<bool>(it->second.value);
}

absl::StatusOr<std::vector<std::string>> GgufFile::Strings(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) return KeyError(source_, key, "is missing");
  if (it->second.kind != GgufValue::Kind::kStringArray) return KeyError(source_, key, "is not an array of strings");
  return std::get<std::vector<std::string>>(it->second.value);
}

absl::StatusOr<std::vector<int64_t>> GgufFile::Ints(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) return KeyError(source_, key, "is missing");
  if (it->second.kind != GgufValue::Kind::kIntArray) return KeyError(source_, key, "is not an array of integers");
  return std::get<std::vector<int64_t>>(it->second.value);
}

bool IsGgufFile(const std::string& path) {
  absl::StatusOr<UniqueFd> opened = OpenUserFile(path);  // a directory, or refused: not a GGUF file
  if (!opened.ok()) return false;
  const int fd = opened->release();
  struct stat st {};
  uint32_t magic = 0;
  const bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, &magic, 4) == 4 && magic == kMagic;
  close(fd);
  return ok;
}

}  // namespace tunefleet
