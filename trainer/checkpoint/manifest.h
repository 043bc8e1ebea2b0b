#pragma once
// The records that say what a checkpoint holds: each file's size and
// CRC32C, each optimizer shard's flat range, and the manifest that commits
// the folder. JSON on disk; parsing never throws (errors name the file).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/lineage/lineage_record.h"

namespace tunefleet {

struct FileRecord {
  std::string name;  // relative to the step folder
  uint64_t size_bytes = 0;
  uint32_t crc32c = 0;
};

// One rank's optimizer shard: the range [begin, end) of the flat buffer
// padded to `padded_numel`, of which the first `numel` elements are real.
struct OptimizerShardRecord {
  std::string file;
  int rank = 0;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t padded_numel = 0;
  int64_t numel = 0;
};

// rank-<r>.files.json: what rank r wrote for this save, written after all
// its files were fsynced. The committing rank gathers these from storage,
// so no collective beyond a barrier (or none, with a wait) is needed.
struct RankFilesRecord {
  int rank = 0;
  int world_size = 1;
  int64_t step = 0;
  std::string save_id;  // ties the record to one save attempt (see CommitRequest)
  std::vector<FileRecord> files;
  std::optional<OptimizerShardRecord> optimizer_shard;
};

struct Manifest {
  int format_version = 1;
  std::string job;
  int64_t step = 0;
  int world_size = 1;
  std::string save_id;
  std::optional<double> loss;
  int64_t created_unix_ms = 0;
  std::vector<FileRecord> files;                       // sorted by name
  std::vector<OptimizerShardRecord> optimizer_shards;  // sorted by begin
  std::optional<Lineage> lineage;                      // what made it; absent in older manifests

  const FileRecord* FindFile(absl::string_view name) const;
};

std::string RankFilesRecordToJson(const RankFilesRecord& record);
absl::StatusOr<RankFilesRecord> RankFilesRecordFromJson(absl::string_view text, absl::string_view path);

// The manifest carries a CRC32C of its own canonical JSON ("manifest_crc32c"),
// so a flipped byte in the manifest itself is caught too.
std::string ManifestToJson(const Manifest& manifest);
absl::StatusOr<Manifest> ManifestFromJson(absl::string_view text, absl::string_view path);

}  // namespace tunefleet
