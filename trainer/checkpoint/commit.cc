#include "trainer/checkpoint/commit.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/safetensors/atomic_file.h"

namespace tunefleet {
namespace {

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The record of `rank` for this save; NOT_FOUND while the rank is not done
// (absent, or a leftover of another save).
absl::StatusOr<RankFilesRecord> ReadRankRecord(const std::string& dir, int rank, const CommitRequest& request) {
  const std::string path = absl::StrCat(dir, "/", RankDoneFileName(rank));
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat("rank ", rank, ": no ", path));
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<RankFilesRecord> record = RankFilesRecordFromJson(*text, path);
  if (!record.ok()) return record.status();
  if (record->save_id != request.save_id || record->step != request.step ||
      record->world_size != request.world_size || record->rank != rank) {
    return absl::NotFoundError(absl::StrCat("rank ", rank, ": ", path, " is from another save (save_id '",
                                            record->save_id, "', step ", record->step, ", world size ",
                                            record->world_size, ")"));
  }
  return record;
}

absl::StatusOr<std::vector<RankFilesRecord>> GatherRankRecords(const std::string& dir, const CommitRequest& request) {
  const auto deadline = std::chrono::steady_clock::now() + request.wait_for_ranks;
  std::vector<RankFilesRecord> records(static_cast<size_t>(request.world_size));
  std::set<int> missing;
  for (int r = 0; r < request.world_size; ++r) missing.insert(r);
  // Storage is the only channel between ranks here, so poll it, backing
  // off to 100 ms; with wait_for_ranks == 0 this is a single pass.
  std::chrono::milliseconds backoff(2);
  std::vector<std::string> why;
  while (true) {
    why.clear();
    for (auto it = missing.begin(); it != missing.end();) {
      absl::StatusOr<RankFilesRecord> record = ReadRankRecord(dir, *it, request);
      if (record.ok()) {
        records[static_cast<size_t>(*it)] = *std::move(record);
        it = missing.erase(it);
      } else if (absl::IsNotFound(record.status())) {
        why.emplace_back(record.status().message());
        ++it;
      } else {
        return record.status();
      }
    }
    if (missing.empty()) return records;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
  const std::string message = absl::StrCat("cannot commit ", dir, ": ", missing.size(), " of ", request.world_size,
                                           " ranks have not finished their files: ", absl::StrJoin(why, "; "));
  return request.wait_for_ranks.count() > 0 ? absl::DeadlineExceededError(message)
                                            : absl::FailedPreconditionError(message);
}

absl::Status CheckSizeOnDisk(const std::string& dir, const FileRecord& file) {
  const std::string path = absl::StrCat(dir, "/", file.name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat ", path));
  if (static_cast<uint64_t>(st.st_size) != file.size_bytes) {
    return absl::DataLossError(
        absl::StrCat(path, ": size ", st.st_size, " bytes, its rank recorded ", file.size_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PublishRankFiles(const std::string& dir, const RankFilesRecord& record) {
  return WriteFileWithChecksum(dir, RankDoneFileName(record.rank), RankFilesRecordToJson(record)).status();
}

absl::StatusOr<Manifest> CommitManifest(const CheckpointRoot& root, const CommitRequest& request) {
  if (request.world_size < 1) return absl::InvalidArgumentError("world_size must be at least 1");
  const std::string dir = root.StepDirectory(request.step);
  if (FileExists(absl::StrCat(dir, "/", kManifestFileName))) {
    return absl::AlreadyExistsError(absl::StrCat(dir, " is already committed"));
  }
  absl::StatusOr<std::vector<RankFilesRecord>> records = GatherRankRecords(dir, request);
  if (!records.ok()) return records.status();
  if (request.fence) {
    if (absl::Status s = request.fence(); !s.ok()) return s;
  }

  Manifest manifest;
  manifest.job = root.job;
  manifest.step = request.step;
  manifest.world_size = request.world_size;
  manifest.save_id = request.save_id;
  manifest.loss = request.loss;
  manifest.lineage = request.lineage;
  manifest.created_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::set<std::string> names;
  for (const RankFilesRecord& record : *records) {
    for (const FileRecord& file : record.files) {
      if (!names.insert(file.name).second) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot commit ", dir, ": two ranks wrote ", file.name));
      }
      // Cheap (a stat): catches a file lost between its record and now.
      if (absl::Status s = CheckSizeOnDisk(dir, file); !s.ok()) return s;
      manifest.files.push_back(file);
    }
    if (record.optimizer_shard) manifest.optimizer_shards.push_back(*record.optimizer_shard);
  }
  std::sort(manifest.files.begin(), manifest.files.end(),
            [](const FileRecord& a, const FileRecord& b) { return a.name < b.name; });
  std::sort(manifest.optimizer_shards.begin(), manifest.optimizer_shards.end(),
            [](const OptimizerShardRecord& a, const OptimizerShardRecord& b) { return a.begin < b.begin; });

  // AtomicFileWriter: .tmp, fsync, rename, fsync of the directory. The
  // rename is the commit point.
  const std::string text = ManifestToJson(manifest);
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> out =
      AtomicFileWriter::Create(absl::StrCat(dir, "/", kManifestFileName));
  if (!out.ok()) return out.status();
  if (absl::Status s = (*out)->Append(text.data(), text.size()); !s.ok()) return s;
  AtomicFileWriter& writer = **out;
  const std::function<absl::Status()> rename = [&writer] { return writer.Commit(); };
  if (absl::Status s = request.commit_guard ? request.commit_guard(rename) : rename(); !s.ok()) return s;
  return manifest;
}

}  // namespace tunefleet
