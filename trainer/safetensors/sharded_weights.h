#pragma once
// One lookup over a model's weights, whether they sit in a single
// `model.safetensors` or are split across shards listed by
// `model.safetensors.index.json` ({"metadata": {...}, "weight_map":
// {tensor name: shard file name}}), as Hugging Face saves large models.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/safetensors/safetensors_reader.h"

namespace tunefleet {

inline constexpr absl::string_view kSafetensorsSingleFile = "model.safetensors";
inline constexpr absl::string_view kSafetensorsIndexFile = "model.safetensors.index.json";

class ShardedWeights {
 public:
  // Reads the index and opens (maps and validates) every shard it names,
  // relative to the index's directory. Errors name the index and, where
  // one is at fault, the shard and the tensor: a missing shard file is
  // NOT_FOUND, a tensor the index places in a shard that lacks it is
  // NOT_FOUND too. Tensors a shard holds but the index does not list are
  // not exposed: the index is the authority, as in transformers.
  static absl::StatusOr<std::unique_ptr<ShardedWeights>> OpenIndex(const std::string& index_path);

  // A single file, seen as one shard.
  static absl::StatusOr<std::unique_ptr<ShardedWeights>> OpenFile(const std::string& path);

  // Every tensor name, sorted.
  const std::vector<std::string>& names() const { return names_; }

  // nullptr when absent.
  const TensorView* Find(absl::string_view name) const;
  // NOT_FOUND naming the source and the tensor when absent. The view lives
  // as long as this object.
  absl::StatusOr<const TensorView*> Get(absl::string_view name) const;

  // The index's "metadata" (e.g. total_size; non-string values as JSON
  // text), or the single file's "__metadata__".
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // The index file, or the single file: what errors name.
  const std::string& source() const { return source_; }

 private:
  ShardedWeights() = default;

  std::string source_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*, std::less<>> by_name_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

// A Hugging Face model directory's weights: `model.safetensors` if present,
// else `model.safetensors.index.json` and its shards; NOT_FOUND naming the
// directory when it has neither.
absl::StatusOr<std::unique_ptr<ShardedWeights>> OpenModelWeights(const std::string& model_dir);

}  // namespace tunefleet
