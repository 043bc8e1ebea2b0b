#include "coordinator/auth/token_table.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/security/secrets.h"

namespace tunefleet::coordinator::auth {

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  auto text = security::ReadSmallFile(path);
  if (!text.ok()) return text.status();
  auto table = Parse(*text);
  if (!table.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", table.status().message()));
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Parse(const std::string& text) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3 || fields[0].size() != 64) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": want \"<sha256 hex> <user> <role>\""));
    }
    auto role = ParseRole(fields[2]);
    if (!role.ok()) return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", role.status().message()));
    table.by_hash_[absl::AsciiStrToLower(fields[0])] = User{fields[1], *role};
  }
  return table;
}

std::optional<TokenTable::User> TokenTable::Find(const std::string& token) const {
  if (token.empty()) return std::nullopt;
  auto it = by_hash_.find(security::Sha256Hex(token));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tunefleet::coordinator::auth
