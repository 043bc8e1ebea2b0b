#pragma once
// The one authorize step every coordinator RPC takes first: who is calling
// (a client certificate from the cluster CA for workers, a bearer token for
// users), whether the RPC table lets them, and the audit row of mutating calls.

#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/auth/audit_log.h"
#include "coordinator/auth/roles.h"
#include "coordinator/auth/token_table.h"

namespace tunefleet::coordinator::auth {

class Authorizer {
 public:
  // `insecure`: no TLS (loopback only): every caller is anonymous and may do
  // anything; the plane's session and assignment checks still hold.
  Authorizer(TokenTable tokens, bool insecure, AuditLog* audit)
      : tokens_(std::move(tokens)), insecure_(insecure), audit_(audit) {}

  // UNAUTHENTICATED (no valid certificate or token) or PERMISSION_DENIED (the
  // table says no); a refused mutating call is audited here.
  absl::StatusOr<Principal> Authorize(const grpc::ServerContext& context, const std::string& method,
                                      const std::string& target) const;
  // The owner check of owner_or_operator rules (audited when refused and mutating).
  absl::Status AuthorizeOwner(const Principal& principal, const std::string& method, const std::string& target,
                              const std::string& owner) const;
  // The row of a mutating call that was allowed, with its result.
  void Audit(const Principal& principal, const std::string& method, const std::string& target,
             const absl::Status& result) const;

  bool insecure() const { return insecure_; }
  AuditLog* audit_log() const { return audit_; }

 private:
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContext& context) const;

  const TokenTable tokens_;
  const bool insecure_;
  AuditLog* const audit_;
};

}  // namespace tunefleet::coordinator::auth
