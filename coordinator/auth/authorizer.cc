#include "coordinator/auth/authorizer.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/security/pki.h"
#include "common/security/tls.h"

namespace tunefleet::coordinator::auth {

absl::StatusOr<Principal> Authorizer::Authenticate(const grpc::ServerContext& context) const {
  Principal principal;
  if (insecure_) {
    principal.kind = Principal::Kind::kAnonymous;
    principal.role = Role::kAdmin;
    return principal;
  }
  // gRPC has verified any client certificate against the cluster CA (and its
  // dates) during the handshake; one from another CA never gets this far.
  if (auto cert = security::PeerCertificate(context); cert.ok()) {
    if (cert->unit != security::kWorkerUnit || cert->common_name.empty()) {
      return absl::PermissionDeniedError(
          absl::StrCat("a client certificate of unit \"", cert->unit, "\" may not call the coordinator"));
    }
    principal.kind = Principal::Kind::kWorker;
    principal.name = cert->common_name;
    principal.certificate_fingerprint = cert->fingerprint;
    return principal;
  }
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end()) {
    return absl::UnauthenticatedError("no credentials: send a bearer token (tunefleet finds it in its config)");
  }
  const std::string value(header->second.data(), header->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(value, kBearer)) return absl::UnauthenticatedError("authorization: want \"Bearer <token>\"");
  auto user = tokens_.Find(value.substr(kBearer.size()));
  if (!user) return absl::UnauthenticatedError("unknown bearer token");
  principal.kind = Principal::Kind::kUser;
  principal.name = user->name;
  principal.role = user->role;
  return principal;
}

absl::StatusOr<Principal> Authorizer::Authorize(const grpc::ServerContext& context, const std::string& method,
                                                const std::string& target) const {
  auto rule = RuleFor(method);
  if (!rule.ok()) return absl::PermissionDeniedError(rule.status().message());  // deny what the table lacks
  auto principal = Authenticate(context);
  absl::Status verdict = principal.ok() ? Allowed(*principal, *rule) : principal.status();
  if (verdict.ok()) return principal;
  if (rule->mutating) {
    Principal who = principal.ok() ? *principal : Principal{Principal::Kind::kUser, context.peer(), Role::kNone, ""};
    if (!principal.ok()) who.name = absl::StrCat("unauthenticated@", context.peer());
    Audit(who, method, target, verdict);
  }
  return verdict;
}

absl::Status Authorizer::AuthorizeOwner(const Principal& principal, const std::string& method,
                                        const std::string& target, const std::string& owner) const {
  auto rule = RuleFor(method);
  if (!rule.ok()) return absl::PermissionDeniedError(rule.status().message());
  absl::Status verdict = AllowedForOwner(principal, *rule, owner);
  if (!verdict.ok() && rule->mutating) Audit(principal, method, target, verdict);
  return verdict;
}

void Authorizer::Audit(const Principal& principal, const std::string& method, const std::string& target,
                       const absl::Status& result) const {
  if (!audit_) return;
  v1::AuditEvent event;
  event.set_principal(principal.Display());
  event.set_role(principal.kind == Principal::Kind::kWorker ? "worker" : RoleName(principal.role));
  event.set_method(method);
  event.set_target(target);
  event.set_code(absl::StatusCodeToString(result.code()));
  event.set_message(std::string(result.message()).substr(0, 500));
  if (auto s = audit_->Record(std::move(event)); !s.ok()) Log("coordinator", absl::StrCat("WARNING: ", s.ToString()));
}

}  // namespace tunefleet::coordinator::auth
