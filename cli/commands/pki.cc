// pki: a cluster's credentials without `up` (Kubernetes Secrets, scripts):
// the CA and the coordinator's certificate, a worker's, a user's token.

#include <iostream>

#include "cli/commands/commands.h"
#include "common/security/cluster_pki.h"

namespace tunefleet::cli {

void AddPkiCommand(CLI::App& app, int& exit_code) {
  auto dir = std::make_shared<std::string>();
  CLI::App* pki = app.add_subcommand("pki", "Make a cluster's CA, certificates and tokens (files as `up` makes them)");
  pki->require_subcommand(1);
  pki->add_option("--dir", *dir, "Folder of the cluster's credentials")->required();

  CLI::App* init = pki->add_subcommand("init", "The CA, the coordinator's certificate and an admin token (kept if present)");
  init->callback([&, dir] {
    const absl::Status s = security::EnsureClusterPki(*dir);
    exit_code = s.ok() ? kExitOk : ReportError(s);
    if (s.ok()) std::cout << *dir << ": ca.pem, coordinator.pem, tokens, admin.token\n";
  });

  auto id = std::make_shared<std::string>();
  CLI::App* worker = pki->add_subcommand("worker", "A worker's certificate (CN = its id), signed by the CA");
  worker->add_option("id", *id, "The worker's id (--worker-id)")->required();
  worker->callback([&, dir, id] {
    const absl::Status s = security::EnsureWorkerCertificate(*dir, *id);
    exit_code = s.ok() ? kExitOk : ReportError(s);
    if (s.ok()) std::cout << *dir << "/workers/" << *id << ".pem\n";
  });

  auto user = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("viewer");
  CLI::App* token = pki->add_subcommand("user", "A new bearer token for a user (printed once; its hash is stored)");
  token->add_option("name", *user, "The user's name")->required();
  token->add_option("--role", *role, "viewer, submitter, operator or admin")
      ->capture_default_str()
      ->check(CLI::IsMember({"viewer", "submitter", "operator", "admin"}));
  token->callback([&, dir, user, role] {
    auto made = security::AddUserToken(*dir, *user, *role);
    exit_code = made.ok() ? kExitOk : ReportError(made.status());
    if (made.ok()) std::cout << *made << "\n";
  });
}

}  // namespace tunefleet::cli
