#include "cli/commands/cluster_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "common/security/cluster_pki.h"
#include "common/security/secrets.h"
#include "common/security/tls.h"

namespace tunefleet::cli {

std::string DefaultConfigPath() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return absl::StrCat(xdg, "/tunefleet/config");
  const char* home = std::getenv("HOME");
  return absl::StrCat(home ? home : ".", "/.config/tunefleet/config");
}

absl::StatusOr<std::optional<ClusterContext>> ReadCurrentContext(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    const std::string current = root["current-context"].as<std::string>("");
    const YAML::Node node = root["contexts"][current];
    if (current.empty() || !node) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": no context \"", current, "\" (current-context)"));
    }
    ClusterContext context;
    context.coordinator = node["coordinator"].as<std::string>("");
    context.certificate_authority = node["certificate-authority"].as<std::string>("");
    context.token_file = node["token-file"].as<std::string>("");
    context.server_name = node["server-name"].as<std::string>(security::kCoordinatorServerName);
    return context;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
}

absl::Status WriteContext(const std::string& path, const std::string& name, const ClusterContext& context) {
  YAML::Node root;
  try {
    if (std::filesystem::exists(path)) root = YAML::LoadFile(path);
  } catch (const YAML::Exception&) {
    root = YAML::Node();  // unreadable: replaced, as a fresh file would be
  }
  YAML::Node node;
  node["coordinator"] = context.coordinator;
  node["certificate-authority"] = context.certificate_authority;
  node["token-file"] = context.token_file;
  node["server-name"] = context.server_name;
  root["contexts"][name] = node;
  root["current-context"] = name;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  YAML::Emitter out;
  out << root;
  return security::WriteFileAtomically(path, absl::StrCat("# tunefleet clusters (written by tunefleet up)\n",
                                                          out.c_str(), "\n"),
                                       0600);
}

ClusterContext StateDirContext(const std::string& state_dir, const std::string& coordinator) {
  const std::string pki = std::filesystem::absolute(state_dir).string() + "/pki";
  return ClusterContext{coordinator, security::ClientFiles(pki).ca, security::AdminTokenPath(pki),
                        security::kCoordinatorServerName};
}

}  // namespace tunefleet::cli
