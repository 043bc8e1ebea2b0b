#include "coordinator/checkpoints/checkpoint_listing.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_time.h"

namespace tunefleet::coordinator {
namespace {

// A number field or `fallback`. (json::value() with a default trips GCC 12's
// -Wnull-dereference inside the json header.)
int64_t IntField(const nlohmann::json& object, const char* key, int64_t fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<int64_t>() : fallback;
}

}  // namespace

absl::StatusOr<std::vector<v1::Checkpoint>> ListCommittedCheckpoints(const std::string& directory,
                                                                     const std::string& job_name) {
  const std::string id = job_name.substr(job_name.rfind('/') + 1);
  const std::filesystem::path job_dir = std::filesystem::path(directory) / id;
  std::vector<v1::Checkpoint> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(job_dir, ec)) return out;
  for (const auto& dir : std::filesystem::directory_iterator(job_dir, ec)) {
    const std::string name = dir.path().filename().string();
    int64_t step = 0;
    if (name.rfind("step-", 0) != 0 || !absl::SimpleAtoi(name.substr(5), &step)) continue;
    std::ifstream in(dir.path() / "manifest.json");
    if (!in) continue;  // not committed
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json manifest = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (!manifest.is_object() || IntField(manifest, "step", -1) != step) continue;
    v1::Checkpoint checkpoint;
    checkpoint.set_name(absl::StrCat(job_name, "/checkpoints/", step));
    checkpoint.set_step(step);
    checkpoint.set_path(dir.path().string());
    checkpoint.set_world_size(static_cast<int32_t>(IntField(manifest, "world_size", 1)));
    if (manifest.contains("loss") && manifest["loss"].is_number()) {
      checkpoint.set_train_loss(manifest["loss"].get<double>());
    }
    int64_t bytes = 0;
    if (manifest.contains("files") && manifest["files"].is_array()) {
      for (const auto& file : manifest["files"]) {
        if (file.is_object()) bytes += IntField(file, "size_bytes", 0);
      }
    }
    checkpoint.set_size_bytes(bytes);
    *checkpoint.mutable_commit_time() =
        ToProtoTime(absl::FromUnixMillis(IntField(manifest, "created_unix_ms", 0)));
    out.push_back(std::move(checkpoint));
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", job_dir.string(), ": ", ec.message()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.step() > b.step(); });
  return out;
}

}  // namespace tunefleet::coordinator
