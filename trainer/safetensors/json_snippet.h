#pragma once
// Internal to tunefleet_safetensors (.cc files only): how error messages
// quote a JSON value from an untrusted file. Scalars are dumped (strings
// cut short); arrays and objects are named by type only, because dumping
// one recurses as deep as its nesting and may be megabytes long.

#include <nlohmann/json.hpp>
#include <string>

namespace tunefleet {

inline std::string JsonSnippet(const nlohmann::json& value) {
  constexpr size_t kMaxChars = 80;
  if (value.is_structured()) return std::string("a JSON ") + value.type_name();
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
  return text;
}

}  // namespace tunefleet
