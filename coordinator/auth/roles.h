#pragma once
// Who may call what: roles, the callers they are given to, and the one table
// of RPC -> least role (docs/security.md prints it; rpc_roles_test checks
// every cell).

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tunefleet::coordinator::auth {

// Ordered: each role may do everything the ones below it may.
enum class Role { kNone = 0, kViewer = 1, kSubmitter = 2, kOperator = 3, kAdmin = 4 };

absl::StatusOr<Role> ParseRole(absl::string_view name);
std::string RoleName(Role role);

// Who is calling, as proved by a client certificate or a bearer token.
struct Principal {
  enum class Kind { kUser, kWorker, kAnonymous };  // anonymous: --insecure (loopback) only
  Kind kind = Kind::kUser;
  std::string name;  // user name or worker id
  Role role = Role::kNone;
  std::string certificate_fingerprint;  // workers
  std::string Display() const;          // "user:alice", "worker:node-1", "anonymous"
};

struct RpcRule {
  const char* method;  // "JobService/CreateJob"
  Principal::Kind caller;  // users (by role) or workers (by certificate)
  Role least;              // users: the least role
  bool mutating;           // audited
  // Only the job's owner, or an operator or admin (logs, metrics, cancel).
  bool owner_or_operator;
};

// Every RPC the coordinator serves.
const std::vector<RpcRule>& RpcRules();
// NOT_FOUND for a method the table does not know (a new RPC must be added).
absl::StatusOr<RpcRule> RuleFor(absl::string_view method);

// The table's verdict for one caller: PERMISSION_DENIED naming the role needed.
absl::Status Allowed(const Principal& principal, const RpcRule& rule);
// For owner_or_operator rules, once the job's owner is known.
absl::Status AllowedForOwner(const Principal& principal, const RpcRule& rule, const std::string& owner);

}  // namespace tunefleet::coordinator::auth
