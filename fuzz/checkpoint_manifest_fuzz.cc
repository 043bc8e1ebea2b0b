// Fuzzes the checkpoint manifest and the per-rank file records, read back
// from shared storage that another job (or a partial write) may have left.
// A manifest carries its own CRC32C, which random bytes almost never match;
// so each input that is a JSON object is also re-sealed with a correct
// checksum (as ManifestToJson computes it) to reach the field parsing behind
// the check, which a writer with bad intent would reach the same way.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "trainer/checkpoint/crc32c.h"
#include "trainer/checkpoint/manifest.h"

namespace {

void ParseManifest(absl::string_view text) {
  auto manifest = tunefleet::ManifestFromJson(text, "fuzz/manifest.json");
  if (manifest.ok()) (void)tunefleet::ManifestToJson(*manifest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  ParseManifest(text);
  auto record = tunefleet::RankFilesRecordFromJson(text, "fuzz/rank-0.files.json");
  if (record.ok()) (void)tunefleet::RankFilesRecordToJson(*record);

  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return 0;
  j.erase("manifest_crc32c");
  const std::string canonical = j.dump();
  j["manifest_crc32c"] = tunefleet::Crc32cHex(tunefleet::Crc32c(canonical.data(), canonical.size()));
  ParseManifest(j.dump());
  return 0;
}
