#pragma once
// Messages as JSON (proto3 JSON mapping, snake_case names so the output reads
// like the spec files users write) and as YAML (the same document).

#include <string>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"

namespace tunefleet::cli {

enum class OutputFormat { kTable, kJson, kYaml };

absl::StatusOr<OutputFormat> ParseOutputFormat(const std::string& text);

std::string MessageToJson(const google::protobuf::Message& message);
// A JSON document as block-style YAML.
std::string JsonToYaml(const std::string& json);

}  // namespace tunefleet::cli
