#pragma once
// Bearer tokens, stored as their SHA-256 in a file ("<sha256 hex> <user>
// <role>" per line, '#' comments): a token that leaks from the file's
// backup or a Kubernetes Secret's etcd copy is still unknown.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/auth/roles.h"

namespace tunefleet::coordinator::auth {

class TokenTable {
 public:
  struct User {
    std::string name;
    Role role = Role::kNone;
  };
  static absl::StatusOr<TokenTable> Load(const std::string& path);
  static absl::StatusOr<TokenTable> Parse(const std::string& text);
  // The user a presented token belongs to.
  std::optional<User> Find(const std::string& token) const;
  size_t size() const { return by_hash_.size(); }

 private:
  std::map<std::string, User> by_hash_;
};

}  // namespace tunefleet::coordinator::auth
