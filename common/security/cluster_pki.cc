#include "common/security/cluster_pki.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/security/pki.h"
#include "common/security/secrets.h"

namespace tunefleet::security {
namespace {

namespace fs = std::filesystem;

absl::Status WritePem(const std::string& stem, const Pem& pem) {
  if (auto s = WriteFileAtomically(stem + ".key", pem.private_key, 0600); !s.ok()) return s;
  return WriteFileAtomically(stem + ".pem", pem.certificate, 0644);
}

absl::StatusOr<Pem> ReadAuthority(const std::string& dir) {
  auto cert = ReadSmallFile(dir + "/ca.pem");
  if (!cert.ok()) return cert.status();
  auto key = ReadSmallFile(dir + "/ca.key");
  if (!key.ok()) return key.status();
  return Pem{*cert, *key};
}

absl::Status MakeDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  chmod(dir.c_str(), 0700);
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsureClusterPki(const std::string& dir) {
  if (auto s = MakeDir(dir); !s.ok()) return s;
  if (!fs::exists(dir + "/ca.pem")) {
    auto ca = CreateAuthority("tunefleet cluster CA");
    if (!ca.ok()) return ca.status();
    if (auto s = WritePem(dir + "/ca", *ca); !s.ok()) return s;
  }
  auto ca = ReadAuthority(dir);
  if (!ca.ok()) return ca.status();
  if (!fs::exists(dir + "/coordinator.pem")) {
    CertificateRequest request;
    request.common_name = kCoordinatorServerName;
    request.unit = kCoordinatorUnit;
    request.dns_names = {kCoordinatorServerName, "localhost"};
    request.ip_addresses = {"127.0.0.1", "::1"};
    auto pem = IssueCertificate(*ca, request);
    if (!pem.ok()) return pem.status();
    if (auto s = WritePem(dir + "/coordinator", *pem); !s.ok()) return s;
  }
  if (!fs::exists(AdminTokenPath(dir))) {
    auto token = AddUserToken(dir, "admin", "admin");
    if (!token.ok()) return token.status();
    if (auto s = WriteFileAtomically(AdminTokenPath(dir), *token + "\n", 0600); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status EnsureWorkerCertificate(const std::string& dir, const std::string& worker_id) {
  if (worker_id.empty() || worker_id == kCoordinatorServerName || worker_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not a worker id: \"", worker_id, "\""));
  }
  if (auto s = MakeDir(dir + "/workers"); !s.ok()) return s;
  const std::string stem = absl::StrCat(dir, "/workers/", worker_id);
  if (fs::exists(stem + ".pem")) return absl::OkStatus();
  auto ca = ReadAuthority(dir);
  if (!ca.ok()) return ca.status();
  CertificateRequest request;
  request.common_name = worker_id;
  request.unit = kWorkerUnit;
  request.dns_names = {worker_id};
  auto pem = IssueCertificate(*ca, request);
  if (!pem.ok()) return pem.status();
  return WritePem(stem, *pem);
}

absl::StatusOr<std::string> AddUserToken(const std::string& dir, const std::string& user, const std::string& role) {
  if (user.empty() || user.find_first_of(" \t\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not a user name: \"", user, "\""));
  }
  const std::string token = RandomHex(32);
  std::string tokens;
  if (auto existing = ReadSmallFile(TokensPath(dir)); existing.ok()) tokens = *existing;
  if (!tokens.empty() && tokens.back() != '\n') tokens += '\n';
  absl::StrAppend(&tokens, Sha256Hex(token), " ", user, " ", role, "\n");
  if (auto s = WriteFileAtomically(TokensPath(dir), tokens, 0600); !s.ok()) return s;
  return token;
}

TlsFiles CoordinatorFiles(const std::string& dir) {
  return {dir + "/ca.pem", dir + "/coordinator.pem", dir + "/coordinator.key"};
}
TlsFiles WorkerFiles(const std::string& dir, const std::string& worker_id) {
  return {dir + "/ca.pem", absl::StrCat(dir, "/workers/", worker_id, ".pem"),
          absl::StrCat(dir, "/workers/", worker_id, ".key")};
}
TlsFiles ClientFiles(const std::string& dir) { return {dir + "/ca.pem", "", ""}; }
std::string TokensPath(const std::string& dir) { return dir + "/tokens"; }
std::string AdminTokenPath(const std::string& dir) { return dir + "/admin.token"; }

}  // namespace tunefleet::security
