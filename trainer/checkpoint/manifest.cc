#include "trainer/checkpoint/manifest.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_integer.h"
#include "trainer/checkpoint/crc32c.h"

namespace tunefleet {
namespace {

using json = nlohmann::json;

constexpr char kSelfChecksumKey[] = "manifest_crc32c";

json FileToJson(const FileRecord& f) {
  return {{"name", f.name}, {"size_bytes", f.size_bytes}, {"crc32c", Crc32cHex(f.crc32c)}};
}

FileRecord FileFromJson(const json& j) {
  FileRecord f;
  f.name = j.at("name").get<std::string>();
  f.size_bytes = JsonIntegerAt<uint64_t>(j, "size_bytes");
  const std::string hex = j.at("crc32c").get<std::string>();
  if (hex.size() != 8 || !absl::SimpleHexAtoi(hex, &f.crc32c)) {
    throw std::runtime_error(absl::StrCat("file '", f.name, "': bad crc32c '", hex, "'"));
  }
  return f;
}

json ShardToJson(const OptimizerShardRecord& s) {
  return {{"file", s.file}, {"rank", s.rank}, {"begin", s.begin}, {"end", s.end},
          {"padded_numel", s.padded_numel}, {"numel", s.numel}};
}

OptimizerShardRecord ShardFromJson(const json& j) {
  OptimizerShardRecord s;
  s.file = j.at("file").get<std::string>();
  s.rank = JsonIntegerAt<int>(j, "rank");
  s.begin = JsonIntegerAt<int64_t>(j, "begin");
  s.end = JsonIntegerAt<int64_t>(j, "end");
  s.padded_numel = JsonIntegerAt<int64_t>(j, "padded_numel");
  s.numel = JsonIntegerAt<int64_t>(j, "numel");
  if (s.begin < 0 || s.end < s.begin || s.end > s.padded_numel || s.numel > s.padded_numel) {
    throw std::runtime_error(absl::StrCat("shard '", s.file, "': inconsistent range [", s.begin, ", ", s.end,
                                          ") of ", s.padded_numel, " (", s.numel, " real)"));
  }
  return s;
}

json FilesToJson(const std::vector<FileRecord>& files) {
  json out = json::array();
  for (const FileRecord& f : files) out.push_back(FileToJson(f));
  return out;
}

std::vector<FileRecord> FilesFromJson(const json& j) {
  std::vector<FileRecord> files;
  for (const json& f : j) files.push_back(FileFromJson(f));
  return files;
}

absl::Status ParseError(absl::string_view path, const std::exception& e) {
  return absl::DataLossError(absl::StrCat(path, ": cannot parse: ", e.what()));
}

}  // namespace

const FileRecord* Manifest::FindFile(absl::string_view name) const {
  for (const FileRecord& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string RankFilesRecordToJson(const RankFilesRecord& record) {
  json j = {{"rank", record.rank},   {"world_size", record.world_size}, {"step", record.step},
            {"save_id", record.save_id}, {"files", FilesToJson(record.files)}};
  if (record.optimizer_shard) j["optimizer_shard"] = ShardToJson(*record.optimizer_shard);
  return j.dump(2);
}

absl::StatusOr<RankFilesRecord> RankFilesRecordFromJson(absl::string_view text, absl::string_view path) {
  try {
    const json j = json::parse(text);
    RankFilesRecord r;
    r.rank = JsonIntegerAt<int>(j, "rank");
    r.world_size = JsonIntegerAt<int>(j, "world_size");
    r.step = JsonIntegerAt<int64_t>(j, "step");
    r.save_id = j.at("save_id").get<std::string>();
    r.files = FilesFromJson(j.at("files"));
    if (j.contains("optimizer_shard")) r.optimizer_shard = ShardFromJson(j.at("optimizer_shard"));
    return r;
  } catch (const std::exception& e) {
    return ParseError(path, e);
  }
}

namespace {

json ManifestBody(const Manifest& m) {
  json shards = json::array();
  for (const OptimizerShardRecord& s : m.optimizer_shards) shards.push_back(ShardToJson(s));
  json j = {{"format_version", m.format_version},
            {"job", m.job},
            {"step", m.step},
            {"world_size", m.world_size},
            {"save_id", m.save_id},
            {"created_unix_ms", m.created_unix_ms},
            {"checksum", "crc32c"},
            {"files", FilesToJson(m.files)},
            {"optimizer_shards", shards}};
  // JSON has no NaN/Inf; a non-finite loss is simply not recorded.
  if (m.loss && std::isfinite(*m.loss)) j["loss"] = *m.loss;
  if (m.lineage) j["lineage"] = json::parse(LineageToJson(*m.lineage));
  return j;
}

}  // namespace

std::string ManifestToJson(const Manifest& manifest) {
  json j = ManifestBody(manifest);
  // Over the compact dump (sorted keys), which parse + dump reproduces.
  const std::string canonical = j.dump();
  j[kSelfChecksumKey] = Crc32cHex(Crc32c(canonical.data(), canonical.size()));
  return j.dump(2);
}

absl::StatusOr<Manifest> ManifestFromJson(absl::string_view text, absl::string_view path) {
  try {
    json j = json::parse(text);
    if (!j.is_object() || !j.contains(kSelfChecksumKey)) {
      return absl::DataLossError(absl::StrCat(path, ": no ", kSelfChecksumKey));
    }
    const std::string stored = j.at(kSelfChecksumKey).get<std::string>();
    j.erase(kSelfChecksumKey);
    const std::string canonical = j.dump();
    const std::string actual = Crc32cHex(Crc32c(canonical.data(), canonical.size()));
    if (stored != actual) {
      return absl::DataLossError(
          absl::StrCat(path, ": manifest checksum mismatch (stored ", stored, ", computed ", actual, ")"));
    }
    Manifest m;
    m.format_version = JsonIntegerAt<int>(j, "format_version");
    if (m.format_version != 1) {
      return absl::UnimplementedError(absl::StrCat(path, ": unknown format_version ", m.format_version));
    }
    m.job = j.at("job").get<std::string>();
    m.step = JsonIntegerAt<int64_t>(j, "step");
    m.world_size = JsonIntegerAt<int>(j, "world_size");
    m.save_id = j.at("save_id").get<std::string>();
    m.created_unix_ms = JsonIntegerAt<int64_t>(j, "created_unix_ms");
    if (j.contains("loss")) m.loss = j.at("loss").get<double>();
    m.files = FilesFromJson(j.at("files"));
    for (const json& s : j.at("optimizer_shards")) m.optimizer_shards.push_back(ShardFromJson(s));
    if (j.contains("lineage")) {
      auto lineage = LineageFromJson(j.at("lineage").dump(), path);
      if (!lineage.ok()) return lineage.status();
      m.lineage = *std::move(lineage);
    }
    return m;
  } catch (const std::exception& e) {
    return ParseError(path, e);
  }
}

}  // namespace tunefleet
