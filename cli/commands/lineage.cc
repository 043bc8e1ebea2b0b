// lineage: what made a model, read from the folder itself (no coordinator):
// an export's tunefleet_lineage.json, or a checkpoint step's manifest.json.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/output/structured.h"
#include "cli/output/table.h"
#include "common/lineage/lineage_record.h"

namespace tunefleet::cli {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// DIR may be an export folder, a checkpoint step folder or either file.
absl::StatusOr<Lineage> ReadLineage(const std::string& where) {
  fs::path path(where);
  std::error_code error;
  if (fs::is_directory(path, error)) {
    if (fs::exists(path / kLineageFileName, error)) {
      path /= kLineageFileName;
    } else if (fs::exists(path / "manifest.json", error)) {
      path /= "manifest.json";
    } else {
      return absl::NotFoundError(absl::StrCat(where, " holds neither ", kLineageFileName,
                                              " (an export) nor manifest.json (a checkpoint step folder)"));
    }
  }
  auto text = ReadWhole(path);
  if (!text.ok()) return text.status();
  if (path.filename() != "manifest.json") return LineageFromJson(*text, path.string());
  const nlohmann::json manifest = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!manifest.is_object()) return absl::DataLossError(absl::StrCat(path.string(), ": not a JSON object"));
  const auto lineage = manifest.find("lineage");
  if (lineage == manifest.end()) {
    return absl::NotFoundError(absl::StrCat(path.string(), " records no lineage (written before tunefleet recorded lineage)"));
  }
  return LineageFromJson(lineage->dump(), path.string());
}

int Show(const std::string& where, const std::string& output) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  absl::StatusOr<Lineage> lineage = ReadLineage(where);
  if (!lineage.ok()) return ReportError(lineage.status());
  switch (*format) {
    case OutputFormat::kTable: {
      std::cout << "tunefleet " << lineage->tunefleet_version << ", spec sha256 " << lineage->spec_sha256 << "\n";
      Table table({"ROLE", "SHA256", "BYTES", "PATH"});
      for (const ContentHash& h : lineage->inputs) {
        table.AddRow({h.role, h.sha256, std::to_string(h.size_bytes), h.path});
      }
      std::cout << table.Render();
      break;
    }
    case OutputFormat::kJson: std::cout << LineageToJson(*lineage) << "\n"; break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(LineageToJson(*lineage)); break;
  }
  return kExitOk;
}

}  // namespace

void AddLineageCommand(CLI::App& app, int& exit_code) {
  auto where = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>("table");
  CLI::App* lineage = app.add_subcommand(
      "lineage", "What made a model: the hashes of its base model, data and spec (an export or checkpoint folder)");
  lineage->add_option("DIR", *where, "An export folder or a checkpoint step folder")->required();
  lineage->add_option("-o,--output", *output, "table, json or yaml")->capture_default_str();
  lineage->callback([&, where, output] { exit_code = Show(*where, *output); });
}

}  // namespace tunefleet::cli
