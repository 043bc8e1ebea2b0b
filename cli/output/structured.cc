#include "cli/output/structured.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"

namespace tunefleet::cli {

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "table" || text.empty()) return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "yaml") return OutputFormat::kYaml;
  return absl::InvalidArgumentError(absl::StrCat("unknown output format \"", text, "\" (table, json or yaml)"));
}

std::string MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);  // cannot fail for our messages
  return out;
}

namespace {
// JSON's {} and [] load as flow style; YAML readers expect block style.
void SetBlockStyle(YAML::Node node) {
  node.SetStyle(YAML::EmitterStyle::Block);
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) SetBlockStyle(it->second);
  } else if (node.IsSequence()) {
    for (auto it = node.begin(); it != node.end(); ++it) SetBlockStyle(*it);
  }
}
}  // namespace

std::string JsonToYaml(const std::string& json) {
  // JSON is YAML; re-emitting it in block style gives the familiar layout.
  YAML::Node node = YAML::Load(json);
  SetBlockStyle(node);
  YAML::Emitter emitter;
  emitter << node;
  return std::string(emitter.c_str()) + "\n";
}

}  // namespace tunefleet::cli
