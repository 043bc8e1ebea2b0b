#include "trainer/safetensors/sharded_weights.h"

#include <sys/stat.h>

#include <cerrno>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/process_path_policy.h"
#include "trainer/safetensors/json_snippet.h"

namespace tunefleet {
namespace {

using json = nlohmann::json;

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadUserFile(path);  // through the path policy
  if (!text.ok()) return absl::Status(text.status().code(), absl::StrCat("cannot open ", path, ": ", text.status().message()));
  return text;
}

// Shard names come from a file we did not write: keep them inside the
// model directory.
absl::Status CheckShardName(const std::string& index_path, const std::string& tensor,
                            const std::string& shard) {
  bool escapes = shard.empty() || shard[0] == '/';
  for (absl::string_view part : absl::StrSplit(shard, '/')) escapes = escapes || part == "..";
  if (escapes) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": tensor '", tensor, "': shard \"", shard,
                     "\" must be a file name relative to the index's directory"));
  }
  return absl::OkStatus();
}

// The index's name -> shard map, validated for shape only.
absl::StatusOr<std::map<std::string, std::string>> ParseIndex(const std::string& index_path,
                                                              const std::string& text,
                                                              std::map<std::string, std::string>& metadata) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": not valid JSON: ", e.what()));
  }
  if (!root.is_object() || !root.contains("weight_map") || !root.at("weight_map").is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": expected an object with a \"weight_map\" object"));
  }
  if (root.contains("metadata") && root.at("metadata").is_object()) {
    for (auto it = root.at("metadata").begin(); it != root.at("metadata").end(); ++it) {
      // Scalars only (HF writes {"total_size": N}); nested values are skipped.
      if (it.value().is_string()) {
        metadata[it.key()] = it.value().get<std::string>();
      } else if (it.value().is_primitive()) {
        metadata[it.key()] = JsonSnippet(it.value());
      }
    }
  }
  std::map<std::string, std::string> weight_map;
  const json& map = root.at("weight_map");
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": tensor '", it.key(),
                                                     "': shard must be a file name string, got ",
                                                     JsonSnippet(it.value())));
    }
    std::string shard = it.value().get<std::string>();
    if (absl::Status s = CheckShardName(index_path, it.key(), shard); !s.ok()) return s;
    weight_map[it.key()] = std::move(shard);
  }
  return weight_map;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShardedWeights>> ShardedWeights::OpenIndex(const std::string& index_path) {
  absl::StatusOr<std::string> text = ReadSmallFile(index_path);
  if (!text.ok()) return text.status();
  std::unique_ptr<ShardedWeights> weights(new ShardedWeights());
  weights->source_ = index_path;
  absl::StatusOr<std::map<std::string, std::string>> weight_map;
  try {
    weight_map = ParseIndex(index_path, *text, weights->metadata_);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": bad index: ", e.what()));
  }
  if (!weight_map.ok()) return weight_map.status();

  const std::string dir = DirectoryOf(index_path);
  std::map<std::string, const SafetensorsFile*> opened;  // shard name -> file
  for (const auto& [tensor, shard] : *weight_map) {
    auto it = opened.find(shard);
    if (it == opened.end()) {
      const std::string shard_path = absl::StrCat(dir, "/", shard);
      absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(shard_path);
      if (!file.ok()) {
        return absl::Status(file.status().code(),
                            absl::StrCat(index_path, ": shard \"", shard, "\" (holding '", tensor,
                                         "'): ", file.status().message()));
      }
      weights->shards_.push_back(*std::move(file));
      it = opened.emplace(shard, weights->shards_.back().get()).first;
    }
    const TensorView* view = it->second->Find(tensor);
    if (view == nullptr) {
      return absl::NotFoundError(absl::StrCat(index_path, ": tensor '", tensor, "' is listed in shard \"",
                                              shard, "\" but that file does not hold it"));
    }
    weights->by_name_.emplace(tensor, view);
    weights->names_.push_back(tensor);  // the map iterates sorted
  }
  return weights;
}

absl::StatusOr<std::unique_ptr<ShardedWeights>> ShardedWeights::OpenFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<ShardedWeights> weights(new ShardedWeights());
  weights->source_ = path;
  weights->metadata_ = (*file)->metadata();
  for (const TensorView& view : (*file)->tensors()) {
    weights->by_name_.emplace(view.name, &view);
    weights->names_.push_back(view.name);
  }
  weights->shards_.push_back(*std::move(file));
  return weights;
}

const TensorView* ShardedWeights::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

absl::StatusOr<const TensorView*> ShardedWeights::Get(absl::string_view name) const {
  const TensorView* view = Find(name);
  if (view == nullptr) return absl::NotFoundError(absl::StrCat(source_, ": no tensor '", name, "'"));
  return view;
}

absl::StatusOr<std::unique_ptr<ShardedWeights>> OpenModelWeights(const std::string& model_dir) {
  const std::string single = absl::StrCat(model_dir, "/", kSafetensorsSingleFile);
  if (IsFile(single)) return ShardedWeights::OpenFile(single);
  const std::string index = absl::StrCat(model_dir, "/", kSafetensorsIndexFile);
  if (IsFile(index)) return ShardedWeights::OpenIndex(index);
  return absl::NotFoundError(absl::StrCat(model_dir, ": neither ", kSafetensorsSingleFile, " nor ",
                                          kSafetensorsIndexFile, " found"));
}

}  // namespace tunefleet
