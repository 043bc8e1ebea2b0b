#include "coordinator/auth/roles.h"

#include "absl/strings/str_cat.h"

namespace tunefleet::coordinator::auth {

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "submitter") return Role::kSubmitter;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return absl::InvalidArgumentError(
      absl::StrCat("role: \"", name, "\" is none of viewer, submitter, operator, admin"));
}

std::string RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kSubmitter: return "submitter";
    case Role::kOperator: return "operator";
    case Role::kAdmin: return "admin";
    case Role::kNone: break;
  }
  return "none";
}

std::string Principal::Display() const {
  switch (kind) {
    case Kind::kUser: return "user:" + name;
    case Kind::kWorker: return "worker:" + name;
    case Kind::kAnonymous: break;
  }
  return "anonymous";
}

const std::vector<RpcRule>& RpcRules() {
  using K = Principal::Kind;
  static const std::vector<RpcRule> rules = {
      {"JobService/CreateJob", K::kUser, Role::kSubmitter, true, false},
      {"JobService/GetJob", K::kUser, Role::kViewer, false, false},
      {"JobService/ListJobs", K::kUser, Role::kViewer, false, false},
      {"JobService/CancelJob", K::kUser, Role::kSubmitter, true, true},
      {"JobService/WatchJobEvents", K::kUser, Role::kViewer, false, false},
      {"JobService/WatchJobMetrics", K::kUser, Role::kViewer, false, true},
      {"JobService/ReadJobLogs", K::kUser, Role::kViewer, false, true},
      {"JobService/ListCheckpoints", K::kUser, Role::kViewer, false, false},
      // Sweeps: as the jobs they are made of; cancel is the owner's, an operator's or an admin's.
      {"SweepService/CreateSweep", K::kUser, Role::kSubmitter, true, false},
      {"SweepService/GetSweep", K::kUser, Role::kViewer, false, false},
      {"SweepService/ListSweeps", K::kUser, Role::kViewer, false, false},
      {"SweepService/CancelSweep", K::kUser, Role::kSubmitter, true, true},
      {"AdminService/ListWorkers", K::kUser, Role::kOperator, false, false},
      {"AdminService/GetWorker", K::kUser, Role::kOperator, false, false},
      {"AdminService/CordonWorker", K::kUser, Role::kOperator, true, false},
      {"AdminService/UncordonWorker", K::kUser, Role::kOperator, true, false},
      {"AdminService/DrainWorker", K::kUser, Role::kOperator, true, false},
      {"AdminService/ListAuditEvents", K::kUser, Role::kAdmin, false, false},
      // Workers: the certificate's CN must be the worker_id of the request
      // (checked by the service, which reads the request).
      {"WorkerService/RegisterWorker", K::kWorker, Role::kNone, true, false},
      {"WorkerService/Heartbeat", K::kWorker, Role::kNone, false, false},
      {"WorkerService/ReportMetrics", K::kWorker, Role::kNone, false, false},
      {"WorkerService/WatchAssignments", K::kWorker, Role::kNone, false, false},
  };
  return rules;
}

absl::StatusOr<RpcRule> RuleFor(absl::string_view method) {
  for (const RpcRule& rule : RpcRules()) {
    if (method == rule.method) return rule;
  }
  return absl::NotFoundError(absl::StrCat("no authorization rule for ", method));
}

absl::Status Allowed(const Principal& principal, const RpcRule& rule) {
  if (principal.kind == Principal::Kind::kAnonymous) return absl::OkStatus();
  if (principal.kind != rule.caller) {
    return absl::PermissionDeniedError(absl::StrCat(rule.method, " is for ",
                                                    rule.caller == Principal::Kind::kWorker ? "workers" : "users",
                                                    ", not ", principal.Display()));
  }
  if (principal.kind == Principal::Kind::kUser && principal.role < rule.least) {
    return absl::PermissionDeniedError(absl::StrCat(rule.method, " needs role ", RoleName(rule.least), "; ",
                                                    principal.Display(), " is ", RoleName(principal.role)));
  }
  return absl::OkStatus();
}

absl::Status AllowedForOwner(const Principal& principal, const RpcRule& rule, const std::string& owner) {
  if (!rule.owner_or_operator || principal.kind == Principal::Kind::kAnonymous ||
      principal.role >= Role::kOperator || (principal.kind == Principal::Kind::kUser && principal.name == owner)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(rule.method, ": only the owner (", owner.empty() ? "none" : owner,
                                                  "), an operator or an admin; not ", principal.Display()));
}

}  // namespace tunefleet::coordinator::auth
